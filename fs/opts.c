/* placeholder */ extern int ufs_placeholder_opts; int ufs_placeholder_opts;
