/*
 * ufs_ctl.h - the control channel between unionfsctl and the daemon.
 *
 * unionfsctl opens any file or directory in the mount and sends one
 * NUL-terminated command line in buf with ioctl(fd, UFS_IOC_CTL, &msg).
 * The reply replaces it: a first line with a decimal status (0, or a
 * positive errno value), then the text to show.  Commands: "branches
 * [json]", "stats [json]", "debug on|off", "debugfile PATH", "add AT MODE
 * PATH", "remove INDEX [force]", "mode INDEX rw|ro".
 */
#ifndef UFS_CTL_H
#define UFS_CTL_H

#include <sys/ioctl.h>

#define UFS_CTL_SIZE 16000

struct ufs_ctl_msg {
	char buf[UFS_CTL_SIZE];
};

#define UFS_IOC_CTL _IOWR('U', 0x75, struct ufs_ctl_msg)

/* Read-only virtual xattrs of every file in the mount. */
#define UFS_XATTR_BRANCH "user.unionfs.branch"
#define UFS_XATTR_HIDDEN "user.unionfs.hidden"

#endif
