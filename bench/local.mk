# make bench: the project's benchmark (filled by the benchmark implementation)
