/* placeholder */ extern int ufs_placeholder_whiteout; int ufs_placeholder_whiteout;
