/* placeholder */ extern int ufs_placeholder_log; int ufs_placeholder_log;
