# unionfsctl: run-time control of a unionfs mount (debug output, branch list
# and counters, which, online branch changes) over the UFS_IOC_CTL ioctl.
bin_PROGRAMS += fs/unionfsctl
fs_unionfsctl_SOURCES = fs/unionfsctl.c fs/ufs_ctl.h
fs_unionfsctl_CFLAGS = $(AM_CFLAGS)
fs_unionfsctl_LDADD = tools/common/libcommon.a
