/* placeholder */ extern int ufs_placeholder_ops_dir; int ufs_placeholder_ops_dir;
