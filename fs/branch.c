/* placeholder */ extern int ufs_placeholder_branch; int ufs_placeholder_branch;
