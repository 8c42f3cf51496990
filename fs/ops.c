/*
 * ops.c - the table of FUSE low-level handlers.
 *
 * Every handler runs through a wrapper that counts the operation and
 * holds the branch lock for reading, so an online branch change (ctl.c,
 * which takes it for writing) never runs beside a request.  Requests that
 * may block for long are handed to the worker pool (pool.c) with copies
 * of their arguments; the control ioctl takes the lock itself.
 */
#include <fcntl.h>
#include <string.h>

#include "ufs.h"

#define COUNT(op) atomic_fetch_add_explicit(&fs->ops[UFS_OP_##op], 1, memory_order_relaxed)

/* Wrapper for handler `op` with parameter list `params` and argument list
 * `args` (both include the request). */
#define WRAP(op, params, args)                                   \
	static void w_##op params                                 \
	{                                                         \
		struct ufs_fs *fs = fuse_req_userdata(req);       \
		COUNT(op);                                        \
		pthread_rwlock_rdlock(&fs->br_lock);              \
		ufs_op_##op args;                                 \
		pthread_rwlock_unlock(&fs->br_lock);              \
	}

WRAP(lookup, (fuse_req_t req, fuse_ino_t p, const char *n), (req, p, n))
WRAP(forget, (fuse_req_t req, fuse_ino_t i, uint64_t n), (req, i, n))
WRAP(forget_multi, (fuse_req_t req, size_t c, struct fuse_forget_data *f), (req, c, f))
WRAP(getattr, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
WRAP(readlink, (fuse_req_t req, fuse_ino_t i), (req, i))
WRAP(mknod, (fuse_req_t req, fuse_ino_t p, const char *n, mode_t m, dev_t r), (req, p, n, m, r))
WRAP(mkdir, (fuse_req_t req, fuse_ino_t p, const char *n, mode_t m), (req, p, n, m))
WRAP(unlink, (fuse_req_t req, fuse_ino_t p, const char *n), (req, p, n))
WRAP(rmdir, (fuse_req_t req, fuse_ino_t p, const char *n), (req, p, n))
WRAP(symlink, (fuse_req_t req, const char *l, fuse_ino_t p, const char *n), (req, l, p, n))
WRAP(read, (fuse_req_t req, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi),
     (req, i, s, o, fi))
WRAP(write_buf, (fuse_req_t req, fuse_ino_t i, struct fuse_bufvec *b, off_t o,
		 struct fuse_file_info *fi), (req, i, b, o, fi))
WRAP(flush, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
WRAP(release, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
WRAP(opendir, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
WRAP(readdir, (fuse_req_t req, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi),
     (req, i, s, o, fi))
WRAP(readdirplus, (fuse_req_t req, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi),
     (req, i, s, o, fi))
WRAP(releasedir, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
WRAP(statfs, (fuse_req_t req, fuse_ino_t i), (req, i))
WRAP(getxattr, (fuse_req_t req, fuse_ino_t i, const char *n, size_t s), (req, i, n, s))
WRAP(listxattr, (fuse_req_t req, fuse_ino_t i, size_t s), (req, i, s))
WRAP(access, (fuse_req_t req, fuse_ino_t i, int m), (req, i, m))
WRAP(create, (fuse_req_t req, fuse_ino_t p, const char *n, mode_t m, struct fuse_file_info *fi),
     (req, p, n, m, fi))
WRAP(lseek, (fuse_req_t req, fuse_ino_t i, off_t o, int w, struct fuse_file_info *fi),
     (req, i, o, w, fi))

/* ---- requests served by the worker pool (pool.c) ---- */

/* A change to an object still on a read-only branch means a copy-up. */
static bool
needs_copyup(struct ufs_fs *fs, fuse_ino_t ino)
{
	return fs->cfg.cow && !br_is_rw(fs, ufs_node_branch(ufs_node_get(fs, ino)));
}

/* Copy a string into the job's data area; returns the end of the copy. */
static char *
put(char *dst, const void *src, size_t len, char **out)
{
	memcpy(dst, src, len);
	*out = dst;
	return dst + len;
}

static void
j_open(struct ufs_fs *fs, struct ufs_job *j)
{
	(void)fs;
	ufs_op_open(j->req, j->ino, &j->fi);
}

static void
w_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ufs_fs *fs = fuse_req_userdata(req);
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY || fi->flags & O_TRUNC;
	struct ufs_job *j;

	COUNT(open);
	if (!writing || !needs_copyup(fs, ino)) {
		pthread_rwlock_rdlock(&fs->br_lock);
		ufs_op_open(req, ino, fi);
		pthread_rwlock_unlock(&fs->br_lock);
		return;
	}
	j = ufs_job_new(req, j_open, 0);
	if (!j)
		return;
	j->ino = ino;
	j->fi = *fi;
	ufs_pool_submit(fs, j);
}

static void
j_setattr(struct ufs_fs *fs, struct ufs_job *j)
{
	(void)fs;
	ufs_op_setattr(j->req, j->ino, &j->attr, j->i1, j->has_fi ? &j->fi : NULL);
}

static void
w_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
	  struct fuse_file_info *fi)
{
	struct ufs_fs *fs = fuse_req_userdata(req);
	struct ufs_job *j;

	COUNT(setattr);
	if (!needs_copyup(fs, ino)) {
		pthread_rwlock_rdlock(&fs->br_lock);
		ufs_op_setattr(req, ino, attr, to_set, fi);
		pthread_rwlock_unlock(&fs->br_lock);
		return;
	}
	j = ufs_job_new(req, j_setattr, 0);
	if (!j)
		return;
	j->ino = ino;
	j->attr = *attr;
	j->i1 = to_set;
	j->has_fi = fi != NULL;
	if (fi)
		j->fi = *fi;
	ufs_pool_submit(fs, j);
}

static void
j_setxattr(struct ufs_fs *fs, struct ufs_job *j)
{
	(void)fs;
	if (j->s2)
		ufs_op_setxattr(j->req, j->ino, j->s1, j->s2, j->size, j->i1);
	else
		ufs_op_removexattr(j->req, j->ino, j->s1);
}

/* setxattr (value != NULL) and removexattr share one path. */
static void
xattr_change(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
	     int flags)
{
	struct ufs_fs *fs = fuse_req_userdata(req);
	size_t nlen = strlen(name) + 1;
	struct ufs_job *j;

	if (!needs_copyup(fs, ino)) {
		pthread_rwlock_rdlock(&fs->br_lock);
		if (value)
			ufs_op_setxattr(req, ino, name, value, size, flags);
		else
			ufs_op_removexattr(req, ino, name);
		pthread_rwlock_unlock(&fs->br_lock);
		return;
	}
	j = ufs_job_new(req, j_setxattr, nlen + (value ? size + 1 : 0));
	if (!j)
		return;
	j->ino = ino;
	j->i1 = flags;
	j->size = size;
	put(j->data, name, nlen, &j->s1);
	if (value)
		put(j->data + nlen, value, size, &j->s2);
	ufs_pool_submit(fs, j);
}

static void
w_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
	   int flags)
{
	struct ufs_fs *fs = fuse_req_userdata(req);

	COUNT(setxattr);
	xattr_change(req, ino, name, value ? value : "", size, flags);
}

static void
w_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct ufs_fs *fs = fuse_req_userdata(req);

	COUNT(removexattr);
	xattr_change(req, ino, name, NULL, 0, 0);
}

static void
j_link(struct ufs_fs *fs, struct ufs_job *j)
{
	(void)fs;
	ufs_op_link(j->req, j->ino, j->ino2, j->s1);
}

static void
w_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct ufs_fs *fs = fuse_req_userdata(req);
	size_t len = strlen(newname) + 1;
	struct ufs_job *j;

	COUNT(link);
	if (!needs_copyup(fs, ino)) {
		pthread_rwlock_rdlock(&fs->br_lock);
		ufs_op_link(req, ino, newparent, newname);
		pthread_rwlock_unlock(&fs->br_lock);
		return;
	}
	j = ufs_job_new(req, j_link, len);
	if (!j)
		return;
	j->ino = ino;
	j->ino2 = newparent;
	put(j->data, newname, len, &j->s1);
	ufs_pool_submit(fs, j);
}

static void
j_rename(struct ufs_fs *fs, struct ufs_job *j)
{
	(void)fs;
	ufs_op_rename(j->req, j->ino, j->s1, j->ino2, j->s2, (unsigned int)j->i1);
}

/* A rename of a non-directory already on an RW branch copies nothing. */
static bool
rename_is_cheap(struct ufs_fs *fs, fuse_ino_t parent, const char *name)
{
	struct ufs_lookup lk;
	bool cheap;

	if (ufs_resolve(fs, ufs_node_get(fs, parent), name, &lk) != 0)
		return true;	/* the error is quick to report too */
	cheap = !S_ISDIR(lk.st.st_mode) && br_is_rw(fs, lk.branch);
	ufs_lookup_release(fs, &lk);
	return cheap;
}

static void
w_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	 const char *newname, unsigned int flags)
{
	struct ufs_fs *fs = fuse_req_userdata(req);
	size_t l1 = strlen(name) + 1, l2 = strlen(newname) + 1;
	struct ufs_job *j;
	bool cheap;

	COUNT(rename);
	pthread_rwlock_rdlock(&fs->br_lock);
	cheap = rename_is_cheap(fs, parent, name);
	if (cheap)
		ufs_op_rename(req, parent, name, newparent, newname, flags);
	pthread_rwlock_unlock(&fs->br_lock);
	if (cheap || !(j = ufs_job_new(req, j_rename, l1 + l2)))
		return;
	j->ino = parent;
	j->ino2 = newparent;
	j->i1 = (int)flags;
	put(put(j->data, name, l1, &j->s1), newname, l2, &j->s2);
	ufs_pool_submit(fs, j);
}

static void
j_fsync(struct ufs_fs *fs, struct ufs_job *j)
{
	(void)fs;
	if (j->i2)
		ufs_op_fsyncdir(j->req, j->ino, j->i1, &j->fi);
	else
		ufs_op_fsync(j->req, j->ino, j->i1, &j->fi);
}

static void
submit_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi, bool dir)
{
	struct ufs_fs *fs = fuse_req_userdata(req);
	struct ufs_job *j = ufs_job_new(req, j_fsync, 0);

	if (!j)
		return;
	j->ino = ino;
	j->i1 = datasync;
	j->i2 = dir;
	j->fi = *fi;
	ufs_pool_submit(fs, j);
}

static void
w_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct ufs_fs *fs = fuse_req_userdata(req);

	COUNT(fsync);
	submit_fsync(req, ino, datasync, fi, false);
}

static void
w_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct ufs_fs *fs = fuse_req_userdata(req);

	COUNT(fsyncdir);
	submit_fsync(req, ino, datasync, fi, true);
}

static void
j_fallocate(struct ufs_fs *fs, struct ufs_job *j)
{
	(void)fs;
	ufs_op_fallocate(j->req, j->ino, j->i1, j->off, j->len, &j->fi);
}

static void
w_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
	    struct fuse_file_info *fi)
{
	struct ufs_fs *fs = fuse_req_userdata(req);
	struct ufs_job *j;

	COUNT(fallocate);
	j = ufs_job_new(req, j_fallocate, 0);
	if (!j)
		return;
	j->ino = ino;
	j->i1 = mode;
	j->off = off;
	j->len = len;
	j->fi = *fi;
	ufs_pool_submit(fs, j);
}

static void
j_copy_file_range(struct ufs_fs *fs, struct ufs_job *j)
{
	(void)fs;
	ufs_op_copy_file_range(j->req, j->ino, j->off, &j->fi, j->ino2, j->off2, &j->fi2, j->size,
			       j->i1);
}

static void
w_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in, struct fuse_file_info *fi_in,
		  fuse_ino_t ino_out, off_t off_out, struct fuse_file_info *fi_out, size_t len,
		  int flags)
{
	struct ufs_fs *fs = fuse_req_userdata(req);
	struct ufs_job *j;

	COUNT(copy_file_range);
	j = ufs_job_new(req, j_copy_file_range, 0);
	if (!j)
		return;
	j->ino = ino_in;
	j->off = off_in;
	j->fi = *fi_in;
	j->ino2 = ino_out;
	j->off2 = off_out;
	j->fi2 = *fi_out;
	j->size = len;
	j->i1 = flags;
	ufs_pool_submit(fs, j);
}

static void
j_ioctl(struct ufs_fs *fs, struct ufs_job *j)
{
	(void)fs;
	ufs_op_ioctl(j->req, j->ino, (unsigned int)j->i1, NULL, j->has_fi ? &j->fi : NULL,
		     (unsigned int)j->i2, j->s1, j->size, j->size2);
}

/* ioctls may copy up or change branches (the control channel, which takes
 * br_lock itself), so they run on a worker without the lock held. */
static void
w_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg, struct fuse_file_info *fi,
	unsigned flags, const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	struct ufs_fs *fs = fuse_req_userdata(req);
	struct ufs_job *j;

	(void)arg;
	COUNT(ioctl);
	j = ufs_job_new(req, j_ioctl, in_bufsz + 1);
	if (!j)
		return;
	j->nolock = true;
	j->ino = ino;
	j->i1 = (int)cmd;
	j->i2 = (int)flags;
	j->has_fi = fi != NULL;
	if (fi)
		j->fi = *fi;
	j->size = in_bufsz;
	j->size2 = out_bufsz;
	put(j->data, in_buf ? in_buf : "", in_buf ? in_bufsz : 0, &j->s1);
	ufs_pool_submit(fs, j);
}

const char *const ufs_op_names[UFS_OP__COUNT] = {
#define X(op) [UFS_OP_##op] = #op,
	UFS_OPS(X)
#undef X
};

const struct fuse_lowlevel_ops ufs_ops = {
	.init = ufs_op_init,
	.destroy = ufs_op_destroy,
	.lookup = w_lookup,
	.forget = w_forget,
	.forget_multi = w_forget_multi,
	.getattr = w_getattr,
	.setattr = w_setattr,
	.readlink = w_readlink,
	.mknod = w_mknod,
	.mkdir = w_mkdir,
	.unlink = w_unlink,
	.rmdir = w_rmdir,
	.symlink = w_symlink,
	.rename = w_rename,
	.link = w_link,
	.open = w_open,
	.read = w_read,
	.write_buf = w_write_buf,
	.flush = w_flush,
	.release = w_release,
	.fsync = w_fsync,
	.opendir = w_opendir,
	.readdir = w_readdir,
	.readdirplus = w_readdirplus,
	.releasedir = w_releasedir,
	.fsyncdir = w_fsyncdir,
	.statfs = w_statfs,
	.setxattr = w_setxattr,
	.getxattr = w_getxattr,
	.listxattr = w_listxattr,
	.removexattr = w_removexattr,
	.access = w_access,
	.create = w_create,
	.fallocate = w_fallocate,
	.lseek = w_lseek,
	.copy_file_range = w_copy_file_range,
	.ioctl = w_ioctl,
};
