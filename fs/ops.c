/*
 * ops.c - the table of FUSE low-level handlers.
 *
 * Every handler runs through a wrapper that counts the operation and
 * holds the branch lock for reading, so an online branch change (ctl.c,
 * which takes it for writing) never runs beside a request.  The control
 * ioctl is the exception: it takes the lock itself.
 */
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
WRAP(setattr, (fuse_req_t req, fuse_ino_t i, struct stat *a, int s, struct fuse_file_info *fi),
     (req, i, a, s, fi))
WRAP(readlink, (fuse_req_t req, fuse_ino_t i), (req, i))
WRAP(mknod, (fuse_req_t req, fuse_ino_t p, const char *n, mode_t m, dev_t r), (req, p, n, m, r))
WRAP(mkdir, (fuse_req_t req, fuse_ino_t p, const char *n, mode_t m), (req, p, n, m))
WRAP(unlink, (fuse_req_t req, fuse_ino_t p, const char *n), (req, p, n))
WRAP(rmdir, (fuse_req_t req, fuse_ino_t p, const char *n), (req, p, n))
WRAP(symlink, (fuse_req_t req, const char *l, fuse_ino_t p, const char *n), (req, l, p, n))
WRAP(rename, (fuse_req_t req, fuse_ino_t p, const char *n, fuse_ino_t np, const char *nn,
	      unsigned int f), (req, p, n, np, nn, f))
WRAP(link, (fuse_req_t req, fuse_ino_t i, fuse_ino_t np, const char *nn), (req, i, np, nn))
WRAP(open, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
WRAP(read, (fuse_req_t req, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi),
     (req, i, s, o, fi))
WRAP(write_buf, (fuse_req_t req, fuse_ino_t i, struct fuse_bufvec *b, off_t o,
		 struct fuse_file_info *fi), (req, i, b, o, fi))
WRAP(flush, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
WRAP(release, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
WRAP(fsync, (fuse_req_t req, fuse_ino_t i, int d, struct fuse_file_info *fi), (req, i, d, fi))
WRAP(opendir, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
WRAP(readdir, (fuse_req_t req, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi),
     (req, i, s, o, fi))
WRAP(readdirplus, (fuse_req_t req, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi),
     (req, i, s, o, fi))
WRAP(releasedir, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
WRAP(fsyncdir, (fuse_req_t req, fuse_ino_t i, int d, struct fuse_file_info *fi), (req, i, d, fi))
WRAP(statfs, (fuse_req_t req, fuse_ino_t i), (req, i))
WRAP(setxattr, (fuse_req_t req, fuse_ino_t i, const char *n, const char *v, size_t s, int f),
     (req, i, n, v, s, f))
WRAP(getxattr, (fuse_req_t req, fuse_ino_t i, const char *n, size_t s), (req, i, n, s))
WRAP(listxattr, (fuse_req_t req, fuse_ino_t i, size_t s), (req, i, s))
WRAP(removexattr, (fuse_req_t req, fuse_ino_t i, const char *n), (req, i, n))
WRAP(access, (fuse_req_t req, fuse_ino_t i, int m), (req, i, m))
WRAP(create, (fuse_req_t req, fuse_ino_t p, const char *n, mode_t m, struct fuse_file_info *fi),
     (req, p, n, m, fi))
WRAP(fallocate, (fuse_req_t req, fuse_ino_t i, int m, off_t o, off_t l, struct fuse_file_info *fi),
     (req, i, m, o, l, fi))
WRAP(lseek, (fuse_req_t req, fuse_ino_t i, off_t o, int w, struct fuse_file_info *fi),
     (req, i, o, w, fi))
WRAP(copy_file_range, (fuse_req_t req, fuse_ino_t i1, off_t o1, struct fuse_file_info *f1,
		       fuse_ino_t i2, off_t o2, struct fuse_file_info *f2, size_t l, int fl),
     (req, i1, o1, f1, i2, o2, f2, l, fl))

static void
w_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg, struct fuse_file_info *fi,
	unsigned flags, const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	struct ufs_fs *fs = fuse_req_userdata(req);

	COUNT(ioctl);
	ufs_op_ioctl(req, ino, cmd, arg, fi, flags, in_buf, in_bufsz, out_bufsz);
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
