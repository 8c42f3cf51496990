/*
 * cred.c - create objects as the calling user.  setfsuid()/setfsgid() act
 * on the calling thread only, so one worker thread can take the caller's
 * identity for a single syscall without touching any other thread.
 */
#include <sys/fsuid.h>
#include <unistd.h>

#include "ufs.h"

int
ufs_cred_enter(struct ufs_fs *fs, fuse_req_t req, struct ufs_cred *saved)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	saved->changed = false;
	if (!fs->am_root || (ctx->uid == 0 && ctx->gid == 0))
		return 0;
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
}
