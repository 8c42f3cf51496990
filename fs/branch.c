/*
 * branch.c - the helpers every branch access goes through: *at() calls
 * relative to a branch or node fd, always O_NOFOLLOW/O_CLOEXEC, returning
 * 0 or -errno, plus the per-branch meta directory (.unionfs) and its work
 * area for temporary names.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ufs.h"

/* Open one branch directory (relative to the chroot if one is set).
 * Returns 0, or -1 with a one-line reason in msg. */
int
br_open(struct ufs_fs *fs, const char *spec, bool rw, struct ufs_branch *b, char *msg,
	size_t size)
{
	char *full = NULL;
	struct stat st;
	int fd;

	if (fs->cfg.chroot && asprintf(&full, "%s/%s", fs->cfg.chroot, spec) < 0)
		return -1;
	fd = open(full ? full : spec, O_PATH | O_CLOEXEC);
	/* The message names at most 200 bytes of the path, so the reason
	 * always fits on its line. */
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(msg, size, "branch %.200s%s: %s", spec, strlen(spec) > 200 ? "..." : "",
			 strerror(errno));
		goto fail;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(msg, size, "branch %.200s%s: not a directory", spec,
			 strlen(spec) > 200 ? "..." : "");
		goto fail;
	}
	memset(b, 0, sizeof(*b));
	b->path = realpath(full ? full : spec, NULL);
	b->fd = fd;
	b->rw = rw;
	b->dev = st.st_dev;
	atomic_init(&b->metafd, -1);
	b->legacyfd = openat(fd, UFS_META_LEGACY, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(full);
	if (!b->path)
		snprintf(msg, size, "branch %s: %s", spec, strerror(errno));
	return b->path ? 0 : -1;
fail:
	if (fd >= 0)
		close(fd);
	free(full);
	return -1;
}

/* Close a branch's fds and free it (the struct itself is the caller's). */
void
br_close(struct ufs_branch *b)
{
	int mfd = atomic_load(&b->metafd);

	close(b->fd);
	if (mfd >= 0)
		close(mfd);
	if (b->legacyfd >= 0)
		close(b->legacyfd);
	free(b->path);
}

int
br_fstatat(const struct ufs_fs *fs, int dirfd, const char *name, struct stat *st)
{
	(void)fs;
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

int
br_openat(int dirfd, const char *name, int flags, mode_t mode)
{
	int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);

	return fd < 0 ? -errno : fd;
}

/* Open a directory for reading its entries (O_PATH fds cannot getdents). */
int
br_opendir_path(int dirfd, const char *name)
{
	return br_openat(dirfd, name, O_RDONLY | O_DIRECTORY, 0);
}

/* Path through /proc for calls that have no *at() form. */
int
br_fd_path(int fd, char *buf, size_t size)
{
	int n = snprintf(buf, size, "/proc/self/fd/%d", fd);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

bool
br_is_rw(const struct ufs_fs *fs, int b)
{
	return b >= 0 && b < fs->nbr && fs->br[b].rw;
}

/* The nearest RW branch at or above (lower index than or equal to) b. */
int
br_first_rw_at_or_above(const struct ufs_fs *fs, int b)
{
	for (int i = b < fs->nbr ? b : fs->nbr - 1; i >= 0; i--)
		if (fs->br[i].rw)
			return i;
	return -EROFS;
}

/*
 * fd of BRANCH/.unionfs (borrowed), or -errno.  The meta directories that
 * exist are opened once at mount (br_work_clean); later only the ones we
 * create ourselves appear, so a missing one costs no syscall per lookup.
 * With `create` it is made (mode 0755); only RW branches are written.
 */
int
br_metafd(struct ufs_fs *fs, int b, bool create)
{
	struct ufs_branch *br = &fs->br[b];
	int fd = atomic_load(&br->metafd), nfd, expected = -1;

	if (fd >= 0)
		return fd;
	if (!create || !br->rw)
		return -ENOENT;
	nfd = openat(br->fd, UFS_META_DIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (nfd < 0 && errno == ENOENT) {
		if (mkdirat(br->fd, UFS_META_DIR, 0755) < 0 && errno != EEXIST)
			return -errno;
		nfd = openat(br->fd, UFS_META_DIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (nfd < 0)
		return -errno;
	if (!atomic_compare_exchange_strong(&br->metafd, &expected, nfd)) {
		close(nfd);
		return expected;
	}
	return nfd;
}

/* Open BRANCH/.unionfs if it exists now and was missing before. */
void
br_meta_refresh(struct ufs_fs *fs, int b)
{
	int expected = -1, fd;

	if (atomic_load(&fs->br[b].metafd) >= 0)
		return;
	fd = openat(fs->br[b].fd, UFS_META_DIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && !atomic_compare_exchange_strong(&fs->br[b].metafd, &expected, fd))
		close(fd);
}

/* mkdir -p of relpath under basefd (components separated by '/'). */
int
br_mkdirs_at(int basefd, const char *relpath, mode_t mode)
{
	char *p = strdup(relpath), *s;
	int err = 0;

	if (!p)
		return -ENOMEM;
	for (s = p;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (*p && mkdirat(basefd, p, mode) < 0 && errno != EEXIST) {
			err = -errno;
			break;
		}
		if (c == '\0')
			break;
		*s = c;
	}
	free(p);
	return err;
}

/* rm -r of dirfd/name (used for work-area debris and stale markers). */
int
br_rmtree_at(int dirfd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd, err = 0;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = br_openat(dirfd, name, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)
			err = br_rmtree_at(fd, de->d_name);
		else if (unlinkat(fd, de->d_name, 0) < 0)
			err = -errno;
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		err = -errno;
	return err;
}

/* The meta directory of branch b, with its work area (UFS_WORK_DIR inside
 * it) made: the place for temporaries that must not appear beside user
 * files.  Returns the meta directory's fd or -errno. */
int
br_work_prepare(struct ufs_fs *fs, int b)
{
	int mfd = br_metafd(fs, b, true);

	if (mfd >= 0 && mkdirat(mfd, UFS_WORK_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	return mfd;
}

/* A unique temporary name for the work area of a branch. */
int
br_tmpname(struct ufs_fs *fs, char *buf, size_t size)
{
	unsigned long long n = atomic_fetch_add(&fs->tmp_counter, 1);
	int len = snprintf(buf, size, UFS_WORK_DIR "/t%ld.%llu", (long)getpid(), n);

	return len < 0 || (size_t)len >= size ? -ENAMETOOLONG : 0;
}

/* At unmount: an empty work area, and an empty meta directory, go (a layer
 * handed to overlayfs afterwards should not carry them). */
void
br_work_remove(struct ufs_fs *fs)
{
	for (int b = 0; b < fs->nbr; b++) {
		int mfd = atomic_load(&fs->br[b].metafd);

		if (!fs->br[b].rw || mfd < 0)
			continue;
		unlinkat(mfd, UFS_WORK_DIR, AT_REMOVEDIR);
		unlinkat(fs->br[b].fd, UFS_META_DIR, AT_REMOVEDIR);
	}
}

/* Open the existing meta directories and remove what a killed daemon may
 * have left in the work areas of the RW branches. */
void
br_work_clean(struct ufs_fs *fs)
{
	for (int b = 0; b < fs->nbr; b++) {
		int mfd = openat(fs->br[b].fd, UFS_META_DIR,
				 O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (mfd < 0)
			continue;
		atomic_store(&fs->br[b].metafd, mfd);
		if (fs->br[b].rw)
			br_rmtree_at(mfd, UFS_WORK_DIR);
	}
}
