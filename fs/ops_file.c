/*
 * ops_file.c - file I/O: open, read, write, flush, release, fsync,
 * fallocate, lseek, copy_file_range, ioctl.
 *
 * Reads and writes move data between the kernel and the backing fd with
 * splice where libfuse can.  A handle opened read-only before its file was
 * copied up follows the node to the upper copy on its next use.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ufs.h"
#include "ufs_ctl.h"

/* Flags used to open a backing file: the kernel did O_CREAT/O_TRUNC
 * checks; O_DIRECT is served as direct_io instead (our buffers are not
 * aligned for it). */
static int
backing_flags(int flags)
{
	return flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_DIRECT);
}

void
ufs_handle_add(struct ufs_fs *fs, struct ufs_handle *h,
	       void (*release)(struct ufs_fs *, struct ufs_handle *))
{
	h->release = release;
	pthread_mutex_lock(&fs->handle_lock);
	h->next = fs->handles.next;
	h->prev = &fs->handles;
	h->next->prev = h;
	fs->handles.next = h;
	pthread_mutex_unlock(&fs->handle_lock);
}

void
ufs_handle_del(struct ufs_fs *fs, struct ufs_handle *h)
{
	pthread_mutex_lock(&fs->handle_lock);
	h->prev->next = h->next;
	h->next->prev = h->prev;
	pthread_mutex_unlock(&fs->handle_lock);
}

/* Release a handle the kernel will never send RELEASE for. */
void
ufs_file_drop(struct ufs_fs *fs, struct ufs_file *f)
{
	ufs_handle_del(fs, &f->h);
	ufs_file_release_fn(fs, &f->h);
}

void
ufs_handles_release_all(struct ufs_fs *fs)
{
	while (fs->handles.next != &fs->handles) {
		struct ufs_handle *h = fs->handles.next;

		ufs_handle_del(fs, h);
		h->release(fs, h);
	}
}

void
ufs_file_release_fn(struct ufs_fs *fs, struct ufs_handle *h)
{
	struct ufs_file *f = (struct ufs_file *)h;

	pt_release(fs, f);
	close(f->fd);
	if (f->oldfd >= 0)
		close(f->oldfd);
	ufs_node_unref(fs, f->node);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

struct ufs_file *
ufs_file_new(struct ufs_fs *fs, struct ufs_node *n, int fd, int branch, int flags)
{
	struct ufs_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->fd = fd;
	f->oldfd = -1;
	f->branch = branch;
	f->flags = backing_flags(flags) & ~O_TRUNC;
	f->node = n;
	pthread_mutex_init(&f->lock, NULL);
	ufs_node_ref(fs, n);
	ufs_handle_add(fs, &f->h, ufs_file_release_fn);
	return f;
}

/* The fd to use now; reopened on the node's new branch after a copy-up.
 * The old fd stays open until release, as another thread may be using it. */
int
ufs_file_fd(struct ufs_fs *fs, struct ufs_file *f)
{
	int b = ufs_node_branch(f->node), fd;
	struct ufs_loc loc;

	if (__atomic_load_n(&f->branch, __ATOMIC_ACQUIRE) == b || f->pinned || b < 0)
		return __atomic_load_n(&f->fd, __ATOMIC_ACQUIRE);
	pthread_mutex_lock(&f->lock);
	if (f->branch != b && ufs_loc_get(fs, f->node, b, &loc) == 0) {
		fd = br_openat(loc.dirfd, loc.name, f->flags, 0);
		ufs_loc_put(fs, &loc);
		if (fd >= 0) {
			if (f->oldfd >= 0)
				close(f->oldfd);
			f->oldfd = f->fd;
			__atomic_store_n(&f->fd, fd, __ATOMIC_RELEASE);
			__atomic_store_n(&f->branch, b, __ATOMIC_RELEASE);
		}
	}
	fd = f->fd;
	pthread_mutex_unlock(&f->lock);
	return fd;
}

/* The open reply's flags, the same for open and create. */
void
ufs_file_info(struct ufs_fs *fs, struct fuse_file_info *fi, struct ufs_file *f)
{
	fi->fh = (uintptr_t)f;
	fi->direct_io = fs->cfg.direct_io || (fi->flags & O_DIRECT);
	/* The kernel refuses keep_cache on a passthrough file: it has no
	 * page cache of its own, the branch file's is used. */
	fi->keep_cache = fs->cfg.cache != UFS_CACHE_NEVER && !f->bk_id;
	/* No FLUSH round trip on close: locks are local and close-time
	 * errors of local branches show up in fsync and write already. */
	fi->noflush = fs->cfg.cache != UFS_CACHE_NEVER;
}

static struct ufs_file *
file_of(struct fuse_file_info *fi)
{
	return (struct ufs_file *)(uintptr_t)fi->fh;
}

void
ufs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_node *n = ufs_node_get(fs, ino);
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY || fi->flags & O_TRUNC;
	int err = writing ? ufs_make_writable(fs, n, !(fi->flags & O_TRUNC)) : 0, b, fd = -1;
	struct ufs_file *f = NULL;
	struct ufs_loc loc;

	b = ufs_node_branch(n);
	if (!err)
		err = ufs_loc_get(fs, n, b, &loc);
	if (!err) {
		fd = br_openat(loc.dirfd, loc.name, backing_flags(fi->flags), 0);
		ufs_loc_put(fs, &loc);
		err = fd < 0 ? fd : 0;
	}
	if (!err && !(f = ufs_file_new(fs, n, fd, b, fi->flags))) {
		close(fd);
		err = -ENOMEM;
	}
	if (!err && (err = pt_open(fs, f)) < 0) {
		ufs_file_drop(fs, f);
		if (err == -ESTALE) {
			/* The kernel looks the name up again and meets a new node. */
			ufs_dbg("open of inode %llu: its open files pass through to "
				"another copy; new node", (unsigned long long)n->ino);
			ufs_node_retire(fs, n);
		}
	}
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	ufs_file_info(fs, fi, f);
	/* An interrupted open gets no RELEASE. */
	if (pt_reply_open(req, fi, f) == -ENOENT)
		ufs_file_drop(fs, f);
}

void
ufs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_file *f = file_of(fi);

	(void)ino;
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	int b = f->branch;	/* f may be released once the reply is out */
	struct stat st;

	buf.buf[0].fd = ufs_file_fd(fs, f);
	buf.buf[0].pos = off;
	/* Count what the reply can hold: the file may end before off+size. */
	if (b >= 0 && fstat(buf.buf[0].fd, &st) == 0 && st.st_size > off)
		UFS_STAT_ADD(fs->br[b].st.bytes_read,
			     (uint64_t)st.st_size - (uint64_t)off < size
				     ? (uint64_t)st.st_size - (uint64_t)off : size);
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void
ufs_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv, off_t off,
		 struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(bufv));
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_file *f = file_of(fi);
	ssize_t n;

	(void)ino;
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = ufs_file_fd(fs, f);
	out.buf[0].pos = off;
	n = fuse_buf_copy(&out, bufv, 0);
	if (f->branch >= 0)
		UFS_STAT_ADD(*(n < 0 ? &fs->br[f->branch].st.errors
				     : &fs->br[f->branch].st.bytes_written), n < 0 ? 1 : (uint64_t)n);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

void
ufs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* close() of a duplicate reports deferred write errors (e.g. quota);
	 * with no fd to spare (max_files) there is nothing to report. */
	int fd = dup(ufs_file_fd(ufs_fs(req), file_of(fi)));
	int err = fd >= 0 && close(fd) < 0 ? errno : 0;

	(void)ino;
	fuse_reply_err(req, err);
}

void
ufs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ufs_file *f = file_of(fi);

	(void)ino;
	ufs_file_drop(ufs_fs(req), f);
	fuse_reply_err(req, 0);
}

void
ufs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int fd = ufs_file_fd(ufs_fs(req), file_of(fi));
	int r = datasync ? fdatasync(fd) : fsync(fd);

	(void)ino;
	fuse_reply_err(req, r < 0 ? errno : 0);
}

void
ufs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		 struct fuse_file_info *fi)
{
	int fd = ufs_file_fd(ufs_fs(req), file_of(fi));

	(void)ino;
	fuse_reply_err(req, fallocate(fd, mode, off, len) < 0 ? errno : 0);
}

void
ufs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	off_t r = lseek(ufs_file_fd(ufs_fs(req), file_of(fi)), off, whence);

	(void)ino;
	if (r < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, r);
}

void
ufs_op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
		       struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
		       struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct ufs_fs *fs = ufs_fs(req);
	ssize_t n;

	(void)ino_in;
	(void)ino_out;
	n = copy_file_range(ufs_file_fd(fs, file_of(fi_in)), &off_in,
			    ufs_file_fd(fs, file_of(fi_out)), &off_out, len, (unsigned)flags);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, (size_t)n);
}

/*
 * The inode-flag ioctls (lsattr, chattr) go to the backing object: the old
 * FS_IOC_GET/SETFLAGS and the FS_IOC_FSGET/FSSETXATTR pair the kernel uses
 * for them on FUSE.  Setting is a change, so it copies up first.  Every
 * other ioctl is ENOTTY, so programs that probe for features fall back.
 */
struct flag_ioctl {
	unsigned int cmd;
	size_t size;		/* argument size */
	bool set;
};

static const struct flag_ioctl flag_ioctls[] = {
	{ FS_IOC_GETFLAGS, sizeof(int), false },
	{ FS_IOC_SETFLAGS, sizeof(int), true },
	{ FS_IOC_FSGETXATTR, sizeof(struct fsxattr), false },
	{ FS_IOC_FSSETXATTR, sizeof(struct fsxattr), true },
};

static const struct flag_ioctl *
find_flag_ioctl(unsigned int cmd)
{
	for (size_t i = 0; i < sizeof(flag_ioctls) / sizeof(flag_ioctls[0]); i++)
		if (flag_ioctls[i].cmd == cmd)
			return &flag_ioctls[i];
	return NULL;
}

static int
do_flag_ioctl(struct ufs_fs *fs, struct ufs_node *n, const struct flag_ioctl *io, void *arg)
{
	struct ufs_loc loc;
	int fd, err = io->set ? ufs_make_writable(fs, n, true) : 0;

	if (!err)
		err = ufs_loc_get(fs, n, ufs_node_branch(n), &loc);
	if (err)
		return err;
	fd = br_openat(loc.dirfd, loc.name, O_RDONLY | O_NONBLOCK, 0);
	ufs_loc_put(fs, &loc);
	if (fd < 0)
		return fd;
	err = ioctl(fd, io->cmd, arg) < 0 ? -errno : 0;
	close(fd);
	return err;
}

/* The control channel: a command in, the reply out (ctl.c). */
static void
reply_ctl(fuse_req_t req, struct ufs_fs *fs, const void *in, size_t insz, size_t outsz)
{
	struct ufs_ctl_msg *msg = malloc(sizeof(*msg));

	if (!msg || insz < sizeof(*msg) || outsz < sizeof(*msg)) {
		fuse_reply_err(req, msg ? EINVAL : ENOMEM);
		free(msg);
		return;
	}
	ufs_ctl(fs, req, in, insz, msg->buf, sizeof(msg->buf));
	fuse_reply_ioctl(req, 0, msg, sizeof(*msg));
	free(msg);
}

void
ufs_op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
	     struct fuse_file_info *fi, unsigned flags, const void *in_buf, size_t in_bufsz,
	     size_t out_bufsz)
{
	const struct flag_ioctl *io = find_flag_ioctl(cmd);
	struct ufs_fs *fs = ufs_fs(req);
	union {
		int flags;
		struct fsxattr fsx;
	} buf;
	int err;

	(void)arg;
	(void)fi;
	if (cmd == UFS_IOC_CTL && !(flags & FUSE_IOCTL_COMPAT)) {
		reply_ctl(req, fs, in_buf, in_bufsz, out_bufsz);
		return;
	}
	if (flags & FUSE_IOCTL_COMPAT || !io) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	pthread_rwlock_rdlock(&fs->br_lock);
	memset(&buf, 0, sizeof(buf));
	if (io->set && in_bufsz < io->size) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (io->set)
		memcpy(&buf, in_buf, io->size);
	err = do_flag_ioctl(fs, ufs_node_get(fs, ino), io, &buf);
	pthread_rwlock_unlock(&fs->br_lock);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_ioctl(req, 0, io->set ? NULL : &buf,
				 io->set ? 0 : (out_bufsz < io->size ? out_bufsz : io->size));
}
