/* placeholder */ extern int ufs_placeholder_copyup; int ufs_placeholder_copyup;
