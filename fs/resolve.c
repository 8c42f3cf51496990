/* placeholder */ extern int ufs_placeholder_resolve; int ufs_placeholder_resolve;
