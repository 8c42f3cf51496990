/* placeholder */ extern int ufs_placeholder_ops; int ufs_placeholder_ops;
