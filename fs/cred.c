/* placeholder */ extern int ufs_placeholder_cred; int ufs_placeholder_cred;
