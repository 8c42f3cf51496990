/* placeholder */ extern int ufs_placeholder_ops_entry; int ufs_placeholder_ops_entry;
