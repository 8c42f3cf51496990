/* placeholder */ extern int ufs_placeholder_ops_namespace; int ufs_placeholder_ops_namespace;
