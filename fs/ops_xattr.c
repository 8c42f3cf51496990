/* placeholder */ extern int ufs_placeholder_ops_xattr; int ufs_placeholder_ops_xattr;
