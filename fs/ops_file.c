/* placeholder */ extern int ufs_placeholder_ops_file; int ufs_placeholder_ops_file;
