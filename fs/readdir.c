/* placeholder */ extern int ufs_placeholder_readdir; int ufs_placeholder_readdir;
