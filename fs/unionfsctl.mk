# unionfsctl build fragment (filled by the unionfsctl implementation)
