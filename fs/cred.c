/*
 * cred.c - create objects as the calling user.  setfsuid()/setfsgid() and
 * the raw setgroups syscall act on the calling thread only (glibc's
 * setgroups() would change every thread), so one worker thread can take
 * the caller's identity, including supplementary groups, for a single
 * syscall without touching any other thread.
 */
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ufs.h"

#define UFS_MAX_GROUPS 64

int
ufs_cred_enter(struct ufs_fs *fs, fuse_req_t req, struct ufs_cred *saved)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[UFS_MAX_GROUPS];
	int n;

	saved->changed = false;
	if (!fs->am_root || (ctx->uid == 0 && ctx->gid == 0))
		return 0;
	n = fuse_req_getgroups(req, UFS_MAX_GROUPS, groups);
	if (n > UFS_MAX_GROUPS)
		n = UFS_MAX_GROUPS;
	saved->groups = n > 0 && syscall(SYS_setgroups, (size_t)n, groups) == 0;
	saved->gid = (gid_t)setfsgid(ctx->gid);
	saved->uid = (uid_t)setfsuid(ctx->uid);
	saved->changed = true;
	return 0;
}

void
ufs_cred_leave(struct ufs_cred *saved)
{
	if (!saved->changed)
		return;
	setfsuid(saved->uid);
	setfsgid(saved->gid);
	/* The daemon runs as root with no supplementary groups of its own. */
	if (saved->groups)
		syscall(SYS_setgroups, (size_t)0, NULL);
}
