/* placeholder */ extern int ufs_placeholder_node; int ufs_placeholder_node;
