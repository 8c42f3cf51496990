/*
 * copyup.c - copying objects up from a lower branch to an RW branch.
 *
 * The target is the nearest RW branch above the branch holding the object
 * (unionfs-fuse's rule).  Parents come first: missing directories are made
 * in the target with the lower directory's mode, owner, times and xattrs.
 * A regular file is built as an O_TMPFILE in the target directory (or,
 * where O_TMPFILE is unsupported, under a temporary name in the branch's
 * work area): data first (FICLONE, else copy_file_range over the data
 * extents so holes stay holes), then xattrs (writing data would clear
 * security.capability), owner, mode and times; it is fsynced (unless
 * -o volatile) and only then linked under its real name.  So the union
 * shows either the lower file or the complete copy, never a partial one.
 *
 * Copy-ups of one node are serialised by a striped lock; the second caller
 * finds the node already on an RW branch and returns ("raced = done").
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ufs.h"

/* copy_file_range calls of 8 MiB amortise the per-call costs; the
 * read/write fallback uses a 1 MiB buffer. */
#define COPY_CHUNK (8 << 20)
#define COPY_BUF (1 << 20)

int
cu_target_branch(struct ufs_fs *fs, int holder)
{
	return br_first_rw_at_or_above(fs, holder - 1);
}

static pthread_mutex_t *
stripe(struct ufs_fs *fs, struct ufs_node *n)
{
	uintptr_t h = (uintptr_t)n >> 6;

	return &fs->cu_locks[h % (sizeof(fs->cu_locks) / sizeof(fs->cu_locks[0]))];
}

/* Copy all xattrs from one fd (or /proc path) to another; ENOTSUP on
 * either side is not an error (the target filesystem may lack them). */
static int
copy_xattrs(const char *src, const char *dst)
{
	ssize_t len = listxattr(src, NULL, 0), vlen;
	char *names, *val = NULL;
	int err = 0;

	if (len <= 0)
		return len < 0 && errno != ENOTSUP && errno != ENODATA ? -errno : 0;
	names = malloc((size_t)len);
	if (!names)
		return -ENOMEM;
	len = listxattr(src, names, (size_t)len);
	for (char *nm = names; len > 0 && nm < names + len && !err; nm += strlen(nm) + 1) {
		/* Markers describe the lower layer, not the object. */
		if (wo_is_internal_xattr(nm))
			continue;
		vlen = getxattr(src, nm, NULL, 0);
		if (vlen < 0)
			continue;
		char *v = realloc(val, (size_t)vlen + 1);

		if (!v) {
			err = -ENOMEM;
			break;
		}
		val = v;
		vlen = getxattr(src, nm, val, (size_t)vlen);
		if (vlen >= 0 && setxattr(dst, nm, val, (size_t)vlen, 0) < 0 &&
		    errno != ENOTSUP && errno != EPERM)
			err = -errno;
	}
	free(val);
	free(names);
	return err;
}

static int
copy_xattrs_fd(int sfd, int tfd)
{
	char s[64], t[64];

	br_fd_path(sfd, s, sizeof(s));
	br_fd_path(tfd, t, sizeof(t));
	return copy_xattrs(s, t);
}

/* Copy [off, end) with copy_file_range, falling back to read/write.
 * With `durable`, writeback of each chunk starts at once, so the disk
 * writes overlap the copying and the final fsync waits only for the tail. */
static int
copy_range(int sfd, int tfd, off_t off, off_t end, char **buf, bool durable, off_t *reached)
{
	*reached = off;
	while (off < end) {
		size_t want = (size_t)(end - off) > COPY_CHUNK ? COPY_CHUNK : (size_t)(end - off);
		off_t o1 = off, o2 = off;
		ssize_t n = copy_file_range(sfd, &o1, tfd, &o2, want, 0);

		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
			      errno == EOPNOTSUPP)) {
			if (!*buf && !(*buf = malloc(COPY_BUF)))
				return -ENOMEM;
			want = want > COPY_BUF ? COPY_BUF : want;
			n = pread(sfd, *buf, want, off);
			if (n > 0 && pwrite(tfd, *buf, (size_t)n, off) != n)
				return errno ? -errno : -EIO;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;	/* the source shrank under us */
		if (durable)
			sync_file_range(tfd, off, n, SYNC_FILE_RANGE_WRITE);
		off += n;
		*reached = off;
	}
	return 0;
}

/* Copy file data, keeping holes; the target ends up `st_size` bytes long.
 * A reflink is tried until the target branch's filesystem has said it has
 * none; a file whose blocks cover its size has no holes to look for. */
static int
copy_data(struct ufs_branch *tb, int sfd, int tfd, const struct stat *st, bool durable)
{
	off_t size = st->st_size, off = 0, reached = 0;
	char *buf = NULL;
	int err = 0;

	if (size == 0)
		return 0;
	if (!atomic_load_explicit(&tb->no_reflink, memory_order_relaxed)) {
		if (ioctl(tfd, FICLONE, sfd) == 0)
			return 0;
		if (errno == EOPNOTSUPP || errno == ENOTTY)
			atomic_store_explicit(&tb->no_reflink, true, memory_order_relaxed);
	}
	if ((off_t)st->st_blocks * 512 >= size)
		err = copy_range(sfd, tfd, 0, size, &buf, durable, &reached);
	else
		while (off < size && !err) {
			off_t data = lseek(sfd, off, SEEK_DATA), hole;

			if (data < 0 && errno == ENXIO)
				break;
			if (data < 0) {
				data = off;	/* no SEEK_DATA support: copy all */
				hole = size;
			} else {
				hole = lseek(sfd, data, SEEK_HOLE);
				if (hole < 0)
					hole = size;
			}
			err = copy_range(sfd, tfd, data, hole > size ? size : hole, &buf, durable,
					 &reached);
			off = hole;
		}
	free(buf);
	/* A hole at the end, or a source that shrank under us. */
	if (!err && reached != size && ftruncate(tfd, size) < 0)
		err = -errno;
	return err;
}

/* Owner, mode (after chown, which clears setuid bits), xattrs, times. */
static int
copy_meta_fd(struct ufs_fs *fs, int sfd, int tfd, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	int err;

	if (fs->am_root && fchown(tfd, st->st_uid, st->st_gid) < 0)
		return -errno;
	err = sfd >= 0 ? copy_xattrs_fd(sfd, tfd) : 0;
	if (!err && fchmod(tfd, st->st_mode & 07777) < 0)
		err = -errno;
	if (!err && futimens(tfd, ts) < 0)
		err = -errno;
	return err;
}

/* A temporary file for branch t: O_TMPFILE in dirfd, or a named file in
 * the work area (*tmpname set, caller renames it). */
static int
open_tmp(struct ufs_fs *fs, int t, int dirfd, char *tmpname, size_t size)
{
	int fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600), mfd, err;

	tmpname[0] = '\0';
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd >= 0 ? fd : -errno;
	mfd = br_work_prepare(fs, t);
	if (mfd < 0)
		return mfd;
	err = br_tmpname(fs, tmpname, size);
	if (err)
		return err;
	fd = br_openat(mfd, tmpname, O_CREAT | O_EXCL | O_RDWR, 0600);
	return fd;
}

/* A regular file's copy, complete but not yet visible; starts as
 * { .fd = -1 }, which tmp_discard() leaves alone. */
struct tmp_copy {
	int t, fd;
	char name[64];		/* in the work area; "" for O_TMPFILE */
};

/*
 * Copy the file into a temporary of branch t.  The data is synced here,
 * before publish() links it: if the link is lost in a power cut the lower
 * file simply shows again, which is the old content, never a truncated
 * one.  So the directory needs no sync of its own.
 */
static int
copy_reg(struct ufs_fs *fs, int sdir, const char *name, int t, int tdir, const struct stat *st,
	 bool data, struct tmp_copy *tc)
{
	int sfd, err;

	tc->t = t;
	sfd = br_openat(sdir, name, O_RDONLY, 0);
	if (sfd < 0)
		return sfd;
	tc->fd = open_tmp(fs, t, tdir, tc->name, sizeof(tc->name));
	err = tc->fd < 0 ? tc->fd : 0;
	if (!err && data)
		err = copy_data(&fs->br[t], sfd, tc->fd, st, !fs->cfg.volatile_mode);
	if (!err)
		err = copy_meta_fd(fs, sfd, tc->fd, st);
	if (!err && !fs->cfg.volatile_mode && fsync(tc->fd) < 0)
		err = -errno;
	close(sfd);
	return err;
}

/* Make the finished temporary visible as dirfd/name in one step. */
static int
publish(struct ufs_fs *fs, struct tmp_copy *tc, int dirfd, const char *name)
{
	char proc[64];
	int r;

	if (tc->name[0]) {
		r = renameat2(br_metafd(fs, tc->t, false), tc->name, dirfd, name, RENAME_NOREPLACE);
		if (r == 0)
			tc->name[0] = '\0';
	} else {
		br_fd_path(tc->fd, proc, sizeof(proc));
		r = linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW);
	}
	return r < 0 ? -errno : 0;
}

/* Close the temporary; one that was not published is removed. */
static void
tmp_discard(struct ufs_fs *fs, struct tmp_copy *tc)
{
	if (tc->name[0])
		unlinkat(br_metafd(fs, tc->t, false), tc->name, 0);
	if (tc->fd >= 0)
		close(tc->fd);
}

/* Symlinks, fifos, sockets and device nodes: created in place, then given
 * owner and times (there is no content to be seen half-copied). */
static int
copy_special(struct ufs_fs *fs, int sdir, const char *name, int tdir, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	char target[PATH_MAX];
	ssize_t len;

	if (S_ISLNK(st->st_mode)) {
		len = readlinkat(sdir, name, target, sizeof(target) - 1);
		if (len < 0)
			return -errno;
		target[len] = '\0';
		if (symlinkat(target, tdir, name) < 0)
			return -errno;
	} else if (mknodat(tdir, name, st->st_mode, st->st_rdev) < 0) {
		return -errno;
	}
	if (fs->am_root && fchownat(tdir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (utimensat(tdir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* Copy a directory's own metadata (not its entries) to tdir/name. */
static int
copy_dir_meta(struct ufs_fs *fs, int sdir, const char *name, int tdir, const struct stat *st)
{
	int sfd = br_openat(sdir, name, O_RDONLY | O_DIRECTORY, 0);
	int tfd = br_openat(tdir, name, O_RDONLY | O_DIRECTORY, 0);
	int err = sfd < 0 ? sfd : tfd < 0 ? tfd : 0;

	if (!err)
		err = copy_meta_fd(fs, sfd, tfd, st);
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	return err;
}

/* The node's object is now the copy `st`: find the node by it, and keep
 * the inode number.  The caller sets the branch once the copy is whole. */
static void
moved_up(struct ufs_fs *fs, struct ufs_node *n, const struct stat *st)
{
	ufs_origin_add(fs, st, n->ino);
	ufs_node_rekey(fs, n, st);
}

/* Parent times in the target change when we add an entry; put them back so
 * a copy-up does not look like a modification of the directory. */
struct saved_times {
	int dirfd;
	struct timespec ts[2];
	bool ok;
};

static void
times_save(int dirfd, struct saved_times *s)
{
	struct stat st;

	s->dirfd = dirfd;
	s->ok = fstatat(dirfd, "", &st, AT_EMPTY_PATH) == 0;
	s->ts[0] = st.st_atim;
	s->ts[1] = st.st_mtim;
}

static void
times_restore(const struct saved_times *s)
{
	char proc[64];

	if (s->ok && br_fd_path(s->dirfd, proc, sizeof(proc)) == 0)
		utimensat(AT_FDCWD, proc, s->ts, 0);
}

/* The node's place in its own branch (src, with its stat) and in branch t
 * (dst).  On success both are held (ufs_loc_put both); on error neither. */
static int
copy_locs(struct ufs_fs *fs, struct ufs_node *n, int t, struct ufs_loc *src, struct ufs_loc *dst,
	  struct stat *st)
{
	int err = ufs_loc_get(fs, n, ufs_node_branch(n), src);

	if (err)
		return err;
	err = br_fstatat(fs, src->dirfd, src->name, st);
	if (!err)
		err = ufs_loc_get(fs, n, t, dst);
	if (err)
		ufs_loc_put(fs, src);
	return err;
}

static int
dir_in_branch_locked(struct ufs_fs *fs, struct ufs_node *n, int b)
{
	struct ufs_node *parent;
	struct ufs_loc src, dst;
	struct stat st, nst;
	struct saved_times pt;
	int err, fd;

	if (ufs_node_dfd(n, b) >= 0)
		return 0;
	if (!(parent = ufs_node_parent(fs, n)))
		return -ENOENT;
	err = dir_in_branch_locked(fs, parent, b);
	ufs_node_unref(fs, parent);
	if (!err)
		err = copy_locs(fs, n, b, &src, &dst, &st);
	if (err)
		return err;
	times_save(dst.dirfd, &pt);
	if (mkdirat(dst.dirfd, dst.name, st.st_mode & 07777) < 0 && errno != EEXIST)
		err = -errno;
	if (!err)
		err = copy_dir_meta(fs, src.dirfd, src.name, dst.dirfd, &st);
	times_restore(&pt);
	fd = err ? -1 : br_openat(dst.dirfd, dst.name, O_PATH | O_DIRECTORY, 0);
	if (!err && fd < 0)
		err = fd;
	if (!err && fstat(fd, &nst) < 0)
		err = -errno;
	if (!err) {
		pthread_mutex_lock(&fs->table_lock);
		ufs_node_set_dfd(n, b, fd);
		pthread_mutex_unlock(&fs->table_lock);
		if (b < ufs_node_branch(n)) {
			moved_up(fs, n, &nst);
			ufs_node_set_branch(fs, n, b);
		}
	} else if (fd >= 0) {
		close(fd);
	}
	ufs_loc_put(fs, &dst);
	ufs_loc_put(fs, &src);
	return err;
}

/*
 * The identity window of a copy-up: from the moment the copy can be seen
 * in its branch until the node has the copy's key and branch and, for a
 * hard link, every other name is linked to the copy.  A lookup that
 * overlaps a window resolves again once it is closed (ufs_node_lookup), so
 * it never makes a second node for the object, nor gives the node a stale
 * branch or name.  The data copy and its fsync stay outside.
 */
static void
window_open(struct ufs_fs *fs)
{
	pthread_mutex_lock(&fs->rekey_lock);
	atomic_fetch_add(&fs->rekey_open, 1);
	atomic_fetch_add(&fs->rekey_gen, 1);
}

static void
window_close(struct ufs_fs *fs)
{
	atomic_fetch_add(&fs->rekey_gen, 1);
	atomic_fetch_sub(&fs->rekey_open, 1);
	pthread_mutex_unlock(&fs->rekey_lock);
}

int
cu_dir_in_branch(struct ufs_fs *fs, struct ufs_node *n, int b)
{
	int err;

	if (ufs_node_dfd(n, b) >= 0)
		return 0;
	window_open(fs);
	pthread_mutex_lock(&fs->dir_lock);
	err = dir_in_branch_locked(fs, n, b);
	pthread_mutex_unlock(&fs->dir_lock);
	window_close(fs);
	return err;
}

/* Copy a non-directory node from branch `from` to branch t; *lower gets
 * the stat of the object copied. */
static int
copy_object(struct ufs_fs *fs, struct ufs_node *n, int from, int t, bool data,
	    struct stat *lower)
{
	struct tmp_copy tc = { .fd = -1 };
	struct ufs_loc src, dst;
	struct saved_times pt;
	struct stat st;
	bool reg;
	int err = copy_locs(fs, n, t, &src, &dst, lower);

	if (err)
		return err;
	reg = S_ISREG(lower->st_mode);
	if (reg)
		err = copy_reg(fs, src.dirfd, src.name, t, dst.dirfd, lower, data, &tc);
	if (!err) {
		window_open(fs);
		times_save(dst.dirfd, &pt);
		err = reg ? publish(fs, &tc, dst.dirfd, dst.name)
			  : copy_special(fs, src.dirfd, src.name, dst.dirfd, lower);
		times_restore(&pt);
		if (!err)
			err = br_fstatat(fs, dst.dirfd, dst.name, &st);
		if (!err) {
			moved_up(fs, n, &st);
			if (reg && lower->st_nlink > 1)
				lk_link_aliases(fs, &dst, from, t, lower);
			ufs_node_set_branch(fs, n, t);
		}
		window_close(fs);
	}
	tmp_discard(fs, &tc);
	ufs_dbg("copy-up %s to branch %d: %d", src.name, t, err);
	ufs_loc_put(fs, &dst);
	ufs_loc_put(fs, &src);
	return err;
}

int
cu_copyup(struct ufs_fs *fs, struct ufs_node *n, int limit, bool data)
{
	int cur = ufs_node_branch(n), t, err;
	struct ufs_node *parent;
	pthread_mutex_t *lock;

	if (br_is_rw(fs, cur) && (limit < 0 || cur <= limit))
		return 0;
	t = limit >= 0 ? br_first_rw_at_or_above(fs, limit) : cu_target_branch(fs, cur);
	if (t < 0)
		return t;
	if (S_ISDIR(n->mode))
		return cu_dir_in_branch(fs, n, t);
	if (!(parent = ufs_node_parent(fs, n)))
		return -ENOENT;
	err = cu_dir_in_branch(fs, parent, t);
	ufs_node_unref(fs, parent);
	if (err)
		return err;
	lock = stripe(fs, n);
	pthread_mutex_lock(lock);
	cur = ufs_node_branch(n);
	if (!(br_is_rw(fs, cur) && cur <= t)) {
		struct stat lower;

		err = copy_object(fs, n, cur, t, data, &lower);
		UFS_STAT_ADD(*(err ? &fs->br[t].st.errors : &fs->br[t].st.copyups), 1);
		if (!err) {
			UFS_STAT_ADD(fs->copyups, 1);
			UFS_STAT_ADD(fs->bytes_copied, data ? (uint64_t)lower.st_size : 0);
		}
	}
	pthread_mutex_unlock(lock);
	return err;
}

/* Look up one entry of a directory being completed and copy it up. */
static int
complete_entry(struct ufs_fs *fs, struct ufs_node *dir, const char *name, int b)
{
	struct ufs_lookup lk;
	struct ufs_node *child;
	int err = ufs_resolve(fs, dir, name, &lk);

	if (err)
		return err == -ENOENT ? 0 : err;
	child = ufs_node_lookup(fs, dir, name, &lk);
	ufs_lookup_release(fs, &lk);
	if (!child)
		return -ENOMEM;
	if (S_ISDIR(child->mode))
		err = cu_dir_complete(fs, child, b);
	else
		err = cu_copyup(fs, child, b, true);
	ufs_node_forget(fs, child, 1);
	return err;
}

/*
 * Give directory n a complete copy of its merged contents in branch b, so
 * it can be renamed there without its lower parts.  Every entry is copied
 * with the atomic copy-up above, so an interruption leaves a union that
 * looks exactly as before.
 */
int
cu_dir_complete(struct ufs_fs *fs, struct ufs_node *n, int b)
{
	struct ufs_dir d = { 0 };
	int err = cu_dir_in_branch(fs, n, b);

	if (!err)
		err = ufs_dir_load(fs, n, &d);
	for (size_t i = 0; !err && i < d.n; i++)
		err = complete_entry(fs, n, ufs_dirent_name(&d, i), b);
	ufs_dir_clear(&d);
	return err;
}
