/*
 * passthrough.c - FUSE passthrough: reads and writes of an open regular
 * file go from the kernel straight to the backing file, without a round
 * trip through the daemon (kernel >= 6.9, CONFIG_FUSE_PASSTHROUGH, root).
 *
 * libfuse 3.14 does not know the protocol bits, so the session uses a
 * custom I/O layer (plain read/writev/splice on the same fd) that
 *   - notes whether the kernel offered FUSE_PASSTHROUGH and io_uring in
 *     its INIT,
 *   - adds FUSE_PASSTHROUGH and max_stack_depth to our INIT reply, and
 *     starts the io_uring queues (uring.c) once it is sent,
 *   - puts FOPEN_PASSTHROUGH and the backing id into an open or create
 *     reply that the replying thread marked (pt_reply_open/create), and
 *   - hands the replies to requests that came through a ring to uring.c.
 *
 * The kernel requires every open file of one inode to be in the same mode:
 * all cached, or all passing through to the same backing file.  The table
 * here holds that mode for each node with open files.  When a node's
 * backing file changed under open passthrough files (a copy-up), a new
 * open cannot join them: the node is retired and the open answered
 * ESTALE, which makes the kernel walk the path again and meet a new node
 * for the copied-up file.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ufs.h"

/* Kernel protocol additions newer than the system's linux/fuse.h (Linux
 * 6.1, protocol 7.38): passthrough is 7.40 (Linux 6.9), io_uring 7.42. */
#define PT_INIT_FLAG (1ULL << 37)	/* FUSE_PASSTHROUGH */
#define UR_INIT_FLAG (1ULL << 41)	/* FUSE_OVER_IO_URING */
#define PT_DEFAULT_MAX_PAGES 32		/* the kernel's without FUSE_MAX_PAGES */
#define PT_FOPEN_FLAG (1U << 7)		/* FOPEN_PASSTHROUGH */
#define PT_STACK_DEPTH 1		/* branches must not be stacked filesystems */

struct pt_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define PT_IOC_BACKING_OPEN _IOW(229, 1, struct pt_backing_map)
#define PT_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

/* Replies we patch, in their 7.40 layout (linux/fuse.h is older). */
struct pt_init_out {
	uint32_t major, minor, max_readahead, flags;
	uint16_t max_background, congestion_threshold;
	uint32_t max_write, time_gran;
	uint16_t max_pages, map_alignment;
	uint32_t flags2, max_stack_depth;
	uint32_t unused[6];
};
struct pt_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

/* The io mode of one node with open files. */
struct pt_inode {
	UT_hash_handle hh;
	const struct ufs_node *node;	/* key */
	uint64_t key[2];	/* the backing file (st_dev, st_ino) */
	int id;			/* kernel backing id; 0: cached mode */
	uint32_t opens;
};

/* A branch file written by passthrough: the kernel writes it in the
 * context of the user's process, so the watch (watch.c) sees its close as
 * a change from outside unless told.  Kept while open and a while after. */
struct pt_mark {
	UT_hash_handle hh;
	uint64_t key[2];	/* st_dev, st_ino */
	uint32_t opens;
	uint64_t until;		/* monotonic ns, once opens is 0 */
};
#define PT_MARK_LINGER_NS 2000000000ULL
#define PT_MARK_SWEEP 1024	/* sweep expired marks beyond this many */

/* Set by a thread just before it sends an open/create reply. */
static __thread int pending_id;

static ssize_t
pt_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *h = buf;
	struct ufs_fs *fs = userdata;

	if (!fs->pt_init_done &&
	    n >= (ssize_t)(sizeof(*h) + offsetof(struct fuse_init_in, unused)) &&
	    h->opcode == FUSE_INIT) {
		const struct fuse_init_in *in = (const void *)(h + 1);
		uint64_t flags = in->flags;

		if (in->flags & FUSE_INIT_EXT)
			flags |= (uint64_t)in->flags2 << 32;
		fs->pt_init_unique = h->unique;
		fs->pt_offered = (flags & PT_INIT_FLAG) != 0;
		fs->ur_offered = (flags & UR_INIT_FLAG) != 0;
		fs->kp_offered = (flags & FUSE_HANDLE_KILLPRIV_V2) != 0;
	}
	return n;
}

static ssize_t
pt_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct ufs_fs *fs = userdata;
	const struct fuse_out_header *h = iov[0].iov_base;
	struct pt_init_out *init = NULL;
	ssize_t n;

	if (count >= 2 && iov[0].iov_len >= sizeof(*h) && h->error == 0) {
		struct iovec *last = &iov[count - 1];

		if (!fs->pt_init_done && h->unique == fs->pt_init_unique &&
		    last->iov_len >= sizeof(struct pt_init_out)) {
			init = last->iov_base;
			fs->pt_init_done = true;
			/* We drop set-id bits (ops_entry.c: kill_setid), so the
			 * kernel asks the branch for security.capability once per
			 * file, not before every write.  direct_io writes never
			 * ask, and never tell us to drop them. */
			if (fs->kp_offered && !fs->cfg.direct_io)
				init->flags |= FUSE_HANDLE_KILLPRIV_V2;
			if (fs->pt_wanted && fs->pt_offered && (init->flags & FUSE_INIT_EXT)) {
				init->flags2 |= (uint32_t)(PT_INIT_FLAG >> 32);
				init->max_stack_depth = PT_STACK_DEPTH;
				fs->pt_on = true;
			}
		} else if (pending_id > 0 && last->iov_len >= sizeof(struct pt_open_out)) {
			struct pt_open_out *o =
				(void *)((char *)last->iov_base + last->iov_len - sizeof(*o));

			o->open_flags |= PT_FOPEN_FLAG;
			o->backing_id = pending_id;
		}
	}
	pending_id = 0;
	if (ur_reply(iov, count, &n))
		return n;
	n = writev(fd, iov, count);
	/* The rings can be registered only once the kernel has our INIT. */
	if (init && n >= 0 && fs->ur_offered && !fs->cfg.no_uring && !fs->cfg.singlethread)
		ur_start(fs, init->max_write,
			 init->flags & FUSE_MAX_PAGES ? init->max_pages : PT_DEFAULT_MAX_PAGES);
	return n;
}

static ssize_t
pt_splice_receive(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
		  unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

static ssize_t
pt_splice_send(int fdin, off_t *offin, int fdout, off_t *offout, size_t len, unsigned int flags,
	       void *userdata)
{
	ssize_t n;

	if (ur_reply_pipe(fdin, len, &n))
		return n;
	return pt_splice_receive(fdin, offin, fdout, offout, len, flags, userdata);
}

int
pt_attach(struct ufs_fs *fs)
{
	static const struct fuse_custom_io io = {
		.read = pt_read,
		.writev = pt_writev,
		.splice_receive = pt_splice_receive,
		.splice_send = pt_splice_send,
	};

	pthread_mutex_init(&fs->pt_lock, NULL);
	fs->pt_sweep_at = PT_MARK_SWEEP;
	return fuse_session_custom_io(fs->se, &io, fuse_session_fd(fs->se));
}

static int
backing_open(struct ufs_fs *fs, int fd)
{
	struct pt_backing_map map = { .fd = fd };
	int id = ioctl(fuse_session_fd(fs->se), PT_IOC_BACKING_OPEN, &map);

	if (id <= 0) {
		ufs_dbg("passthrough: backing file refused (%s), using the cache",
			strerror(errno));
		return 0;
	}
	return id;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* pt_lock held. */
static void
mark_open(struct ufs_fs *fs, const uint64_t key[2])
{
	struct pt_mark *m;

	HASH_FIND(hh, fs->pt_marks, key, sizeof(m->key), m);
	if (!m && (m = calloc(1, sizeof(*m)))) {
		memcpy(m->key, key, sizeof(m->key));
		HASH_ADD(hh, fs->pt_marks, key, sizeof(m->key), m);
	}
	if (m)
		m->opens++;
}

/* pt_lock held. */
static void
mark_closed(struct ufs_fs *fs, const uint64_t key[2])
{
	struct pt_mark *m, *tmp;
	uint64_t now = now_ns();

	HASH_FIND(hh, fs->pt_marks, key, sizeof(m->key), m);
	if (m && m->opens && --m->opens == 0)
		m->until = now + PT_MARK_LINGER_NS;
	/* Sweeps happen when the table doubled since the last one, so their
	 * cost per close stays constant. */
	if (HASH_COUNT(fs->pt_marks) <= fs->pt_sweep_at)
		return;
	HASH_ITER(hh, fs->pt_marks, m, tmp)
		if (!m->opens && m->until < now) {
			HASH_DEL(fs->pt_marks, m);
			free(m);
		}
	fs->pt_sweep_at = 2 * HASH_COUNT(fs->pt_marks);
	if (fs->pt_sweep_at < PT_MARK_SWEEP)
		fs->pt_sweep_at = PT_MARK_SWEEP;
}

bool
pt_wrote(struct ufs_fs *fs, dev_t dev, ino_t ino)
{
	uint64_t key[2] = { dev, ino };
	struct pt_mark *m;
	bool ret;

	if (!fs->pt_on)
		return false;
	pthread_mutex_lock(&fs->pt_lock);
	HASH_FIND(hh, fs->pt_marks, key, sizeof(key), m);
	ret = m && (m->opens || m->until > now_ns());
	pthread_mutex_unlock(&fs->pt_lock);
	return ret;
}

void
pt_free(struct ufs_fs *fs)
{
	struct pt_mark *m, *tmp;

	HASH_ITER(hh, fs->pt_marks, m, tmp) {
		HASH_DEL(fs->pt_marks, m);
		free(m);
	}
}

/* Does f write its branch file by passthrough (so the watch must be told)? */
static bool
writes_through(const struct pt_inode *p, const struct ufs_file *f)
{
	return p->id && (f->flags & O_ACCMODE) != O_RDONLY;
}

int
pt_open(struct ufs_fs *fs, struct ufs_file *f)
{
	struct pt_inode *p;
	struct stat st;
	int ret = 0;

	if (!fs->pt_on || fstat(f->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	pthread_mutex_lock(&fs->pt_lock);
	HASH_FIND_PTR(fs->pt_inodes, &f->node, p);
	if (!p && (p = calloc(1, sizeof(*p)))) {
		p->node = f->node;
		p->key[0] = st.st_dev;
		p->key[1] = st.st_ino;
		p->id = backing_open(fs, f->fd);
		HASH_ADD_PTR(fs->pt_inodes, node, p);
	} else if (p && p->id && (p->key[0] != st.st_dev || p->key[1] != st.st_ino)) {
		ret = -ESTALE;
	}
	if (p && !ret) {
		p->opens++;
		f->tracked = true;
		f->bk_id = p->id;
		if (writes_through(p, f))
			mark_open(fs, p->key);
		/* The kernel reads and writes this file: keep the fd on it. */
		f->pinned = f->pinned || p->id;
	}
	pthread_mutex_unlock(&fs->pt_lock);
	return p || ret ? ret : -ENOMEM;
}

void
pt_release(struct ufs_fs *fs, struct ufs_file *f)
{
	struct pt_inode *p;

	if (!f->tracked)
		return;
	pthread_mutex_lock(&fs->pt_lock);
	HASH_FIND_PTR(fs->pt_inodes, &f->node, p);
	if (p && writes_through(p, f))
		mark_closed(fs, p->key);
	if (p && --p->opens == 0) {
		if (p->id) {
			uint32_t id = (uint32_t)p->id;

			ioctl(fuse_session_fd(fs->se), PT_IOC_BACKING_CLOSE, &id);
		}
		HASH_DEL(fs->pt_inodes, p);
		free(p);
	}
	pthread_mutex_unlock(&fs->pt_lock);
}

size_t
pt_files(struct ufs_fs *fs)
{
	struct pt_inode *p, *tmp;
	size_t n = 0;

	if (!fs->pt_on)
		return 0;
	pthread_mutex_lock(&fs->pt_lock);
	HASH_ITER(hh, fs->pt_inodes, p, tmp)
		if (p->id)
			n += p->opens;
	pthread_mutex_unlock(&fs->pt_lock);
	return n;
}

int
pt_reply_open(fuse_req_t req, const struct fuse_file_info *fi, const struct ufs_file *f)
{
	int r;

	pending_id = f->bk_id;
	r = fuse_reply_open(req, fi);
	pending_id = 0;
	return r;
}

int
pt_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
		const struct fuse_file_info *fi, const struct ufs_file *f)
{
	int r;

	pending_id = f->bk_id;
	r = fuse_reply_create(req, e, fi);
	pending_id = 0;
	return r;
}
