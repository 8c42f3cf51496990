/*
 * whiteout.c - the on-disk whiteout format, behind one small interface.
 *
 * unionfs-fuse's format: BRANCH/.unionfs/PATH_HIDDEN~ hides PATH in the
 * branches below BRANCH.  The marker is a file for a deleted file and a
 * directory for a deleted directory; either kind hides the whole subtree
 * below PATH, which is what makes a directory re-created above it opaque.
 * The legacy meta directory name .unionfs-fuse is honoured when reading.
 * Kernel overlayfs's format is handled in the second half of this file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ufs.h"

#define SUFFIX_LEN (sizeof(UFS_HIDDEN_SUFFIX) - 1)

/* Temporary names made beside their target (see tmp_entry): never shown. */
bool
wo_is_tmp_name(const char *name)
{
	return !strncmp(name, UFS_TMP_PREFIX, sizeof(UFS_TMP_PREFIX) - 1);
}

bool
wo_is_meta_name(const char *name)
{
	return !strcmp(name, UFS_META_DIR) || !strcmp(name, UFS_META_LEGACY);
}

/* "DIRPATH/NAME_HIDDEN~" relative to the meta directory; caller frees. */
static char *
marker_path(struct ufs_fs *fs, struct ufs_node *parent, const char *name)
{
	char *dir = ufs_node_path(fs, parent), *p = NULL;

	if (!dir)
		return NULL;
	if (asprintf(&p, "%s%s%s" UFS_HIDDEN_SUFFIX, dir, *dir ? "/" : "", name) < 0)
		p = NULL;
	free(dir);
	return p;
}

/* Where a marker path lives: short paths are used as they are; paths too
 * long for one syscall are walked a directory at a time. */
struct mloc {
	int dirfd;
	bool own;		/* dirfd must be closed */
	const char *name;
};

#define MARKER_WALK_LEN 1024

static int
mloc_open(int mfd, char *path, bool create, struct mloc *m)
{
	char *slash = strrchr(path, '/'), *comp, *save = NULL;
	int cur = mfd, err = 0;

	m->dirfd = mfd;
	m->own = false;
	m->name = path;
	if (!slash)
		return 0;
	if (strlen(path) < MARKER_WALK_LEN) {
		if (create) {
			*slash = '\0';
			err = br_mkdirs_at(mfd, path, 0755);
			*slash = '/';
		}
		return err;
	}
	*slash = '\0';
	for (comp = strtok_r(path, "/", &save); comp && !err; comp = strtok_r(NULL, "/", &save)) {
		int fd = br_openat(cur, comp, O_PATH | O_DIRECTORY, 0);

		if (fd == -ENOENT && create && mkdirat(cur, comp, 0755) == 0)
			fd = br_openat(cur, comp, O_PATH | O_DIRECTORY, 0);
		if (cur != mfd)
			close(cur);
		err = fd < 0 ? fd : 0;
		cur = fd;
	}
	if (err)
		return err;
	m->dirfd = cur;
	m->own = cur != mfd;
	m->name = slash + 1;
	return 0;
}

static void
mloc_close(struct mloc *m)
{
	if (m->own)
		close(m->dirfd);
}

static bool
marker_at(int mfd, const char *path)
{
	char *copy = mfd >= 0 ? strdup(path) : NULL;
	struct stat st;
	struct mloc m;
	bool found = false;

	if (copy && mloc_open(mfd, copy, false, &m) == 0) {
		found = fstatat(m.dirfd, m.name, &st, AT_SYMLINK_NOFOLLOW) == 0;
		mloc_close(&m);
	}
	free(copy);
	return found;
}

/* .wh.NAME beside NAME in the branch's copy of the parent (image tools). */
static bool
wh_file_exists(struct ufs_node *parent, int b, const char *name)
{
	int pfd = ufs_node_dfd(parent, b);
	char wh[NAME_MAX + 8];
	struct stat st;

	if (pfd < 0 || strlen(name) > NAME_MAX - 4)
		return false;
	snprintf(wh, sizeof(wh), ".wh.%s", name);
	return fstatat(pfd, wh, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

bool
wo_exists(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name)
{
	int mfd = br_metafd(fs, b, false), lfd = fs->br[b].legacyfd;
	bool found;
	char *path;

	if (wh_file_exists(parent, b, name))
		return true;
	if (mfd < 0 && lfd < 0)
		return false;
	path = marker_path(fs, parent, name);
	if (!path)
		return false;
	found = marker_at(mfd, path) || marker_at(lfd, path);
	free(path);
	return found;
}

int
wo_create(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name, bool dir)
{
	int mfd = br_metafd(fs, b, true), err, fd;
	struct mloc m;
	char *path;

	if (mfd < 0)
		return mfd;
	path = marker_path(fs, parent, name);
	if (!path)
		return -ENOMEM;
	err = mloc_open(mfd, path, true, &m);
	if (err) {
		free(path);
		return err;
	}
	if (dir) {
		if (mkdirat(m.dirfd, m.name, 0755) < 0 && errno != EEXIST)
			err = -errno;
	} else {
		fd = openat(m.dirfd, m.name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0)
			err = -errno;
		else
			close(fd);
	}
	mloc_close(&m);
	free(path);
	return err;
}

int
wo_remove(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name)
{
	int mfd = br_metafd(fs, b, false), err;
	struct mloc m;
	char *path;

	if (mfd < 0)
		return 0;
	path = marker_path(fs, parent, name);
	if (!path)
		return -ENOMEM;
	err = mloc_open(mfd, path, false, &m);
	if (!err) {
		err = br_rmtree_at(m.dirfd, m.name);
		mloc_close(&m);
	}
	free(path);
	return err == -ENOENT ? 0 : err;
}

void
wo_remove_subtree(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name)
{
	int mfd = br_metafd(fs, b, false);
	char *path;

	if (mfd < 0)
		return;
	path = marker_path(fs, parent, name);
	if (path) {
		struct mloc m;

		path[strlen(path) - SUFFIX_LEN] = '\0';
		if (mloc_open(mfd, path, false, &m) == 0) {
			br_rmtree_at(m.dirfd, m.name);
			mloc_close(&m);
		}
		free(path);
	}
}

static void
list_markers(int mfd, const char *dirpath, wo_list_cb cb, void *ctx)
{
	char *copy = mfd >= 0 ? strdup(*dirpath ? dirpath : ".") : NULL;
	struct dirent *de;
	struct mloc m;
	DIR *d;
	int fd = -1;

	if (copy && mloc_open(mfd, copy, false, &m) == 0) {
		fd = br_opendir_path(m.dirfd, m.name);
		mloc_close(&m);
	}
	free(copy);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > SUFFIX_LEN && !strcmp(de->d_name + len - SUFFIX_LEN, UFS_HIDDEN_SUFFIX)) {
			de->d_name[len - SUFFIX_LEN] = '\0';
			cb(ctx, de->d_name);
		}
	}
	closedir(d);
}

void
wo_list(struct ufs_fs *fs, struct ufs_node *dir, int b, wo_list_cb cb, void *ctx)
{
	int mfd = br_metafd(fs, b, false), lfd = fs->br[b].legacyfd;
	char *path;

	if (mfd < 0 && lfd < 0)
		return;
	path = ufs_node_path(fs, dir);
	if (!path)
		return;
	list_markers(mfd, path, cb, ctx);
	list_markers(lfd, path, cb, ctx);
	free(path);
}

/* ------------------------------------------------------------------ */
/*
 * Kernel overlayfs's format, read in every branch whatever the option:
 * a 0/0 character device (or a zero-size file with the overlay.whiteout
 * xattr) in place of the deleted entry; an opaque directory carries
 * overlay.opaque="y"; image tools write .wh.NAME files and .wh..wh..opq.
 * With -o whiteout=overlay, new whiteouts and opaque markers are written
 * this way (trusted.* xattrs, or user.* with -o userxattr).
 */

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

static const char *
xattr_name(struct ufs_fs *fs, const char *what)
{
	static const char *const trusted[] = { "trusted.overlay.opaque", "trusted.overlay.whiteout" };
	static const char *const user[] = { "user.overlay.opaque", "user.overlay.whiteout" };
	int i = !strcmp(what, "whiteout");

	return fs->cfg.userxattr ? user[i] : trusted[i];
}

bool
wo_is_internal_xattr(const char *name)
{
	return !strncmp(name, "trusted.overlay.", 16) || !strncmp(name, "user.overlay.", 13);
}

/* Read an overlay xattr (trusted or user namespace) of dirfd/name. */
static ssize_t
get_ovl_xattr(int dirfd, const char *name, const char *what, char *val, size_t size)
{
	char trusted[64], user[64];
	ssize_t len;
	bool self = !strcmp(name, ".");
	int fd = self ? dirfd : br_openat(dirfd, name, O_PATH, 0);
	char proc[64];

	if (fd < 0)
		return -1;
	br_fd_path(fd, proc, sizeof(proc));
	snprintf(trusted, sizeof(trusted), "trusted.overlay.%s", what);
	snprintf(user, sizeof(user), "user.overlay.%s", what);
	len = getxattr(proc, trusted, val, size);
	if (len < 0)
		len = getxattr(proc, user, val, size);
	if (!self)
		close(fd);
	return len;
}

bool
wo_is_whiteout_entry(int dirfd, const char *name, const struct stat *st)
{
	char v[4];

	if (S_ISCHR(st->st_mode) && st->st_rdev == 0)
		return true;
	return S_ISREG(st->st_mode) && st->st_size == 0 &&
	       get_ovl_xattr(dirfd, name, "whiteout", v, sizeof(v)) >= 0;
}

/* Opaque directory (overlay xattr "y", or .wh..wh..opq inside it). */
bool
wo_dir_is_opaque(int dirfd)
{
	struct stat st;
	char v[4];
	ssize_t len = get_ovl_xattr(dirfd, ".", "opaque", v, sizeof(v));

	if (len == 1 && v[0] == 'y')
		return true;
	return fstatat(dirfd, WH_OPAQUE, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* A directory whose overlay.opaque is "x" may hold xattr whiteouts. */
bool
wo_dir_has_xattr_whiteouts(int dirfd)
{
	char v[4];

	return get_ovl_xattr(dirfd, ".", "opaque", v, sizeof(v)) == 1 && v[0] == 'x';
}

int
wo_entry_kind(int dirfd, const char *name, unsigned char type, bool xattr_wo, const char **hides)
{
	struct stat st;

	*hides = name;
	if (!strncmp(name, WH_PREFIX, 4)) {
		if (!strcmp(name, WH_OPAQUE))
			return WO_KIND_META;
		*hides = name + 4;
		return WO_KIND_WHITEOUT;
	}
	if (type != DT_CHR && type != DT_UNKNOWN && !(xattr_wo && type == DT_REG))
		return WO_KIND_NONE;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return WO_KIND_NONE;
	return wo_is_whiteout_entry(dirfd, name, &st) ? WO_KIND_WHITEOUT : WO_KIND_NONE;
}

/* Make a whiteout at dirfd/name in the configured overlay flavour: a 0/0
 * device, or where mknod is refused, an xattr-marked empty file. */
static int
ovl_mkwhiteout(struct ufs_fs *fs, int dirfd, const char *name, int holder)
{
	char proc[64];
	int fd;

	if (mknodat(dirfd, name, S_IFCHR | 0, 0) == 0)
		return 0;
	if (errno != EPERM)
		return -errno;
	fd = br_openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY, 0);
	if (fd < 0)
		return fd;
	br_fd_path(fd, proc, sizeof(proc));
	if (setxattr(proc, xattr_name(fs, "whiteout"), "", 0, 0) < 0) {
		int err = -errno;

		close(fd);
		unlinkat(dirfd, name, 0);
		return err;
	}
	close(fd);
	/* The directory that will hold it says it may hold xattr whiteouts. */
	br_fd_path(holder, proc, sizeof(proc));
	if (!wo_dir_is_opaque(holder))
		setxattr(proc, xattr_name(fs, "opaque"), "x", 1, 0);
	return 0;
}

static bool
overlay_fmt(struct ufs_fs *fs)
{
	return fs->cfg.wo_overlay;
}

/* A temporary name in the same directory, for atomic replacement. */
static void
tmp_entry(struct ufs_fs *fs, char *buf, size_t size)
{
	snprintf(buf, size, UFS_TMP_PREFIX "%ld.%llu", (long)getpid(),
		 (unsigned long long)atomic_fetch_add(&fs->tmp_counter, 1));
}

bool
wo_occupies(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name)
{
	int pfd = ufs_node_dfd(parent, b);
	struct stat st;

	(void)fs;
	return pfd >= 0 && fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       wo_is_whiteout_entry(pfd, name, &st);
}

static int hide(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name, bool dir);

static int
counted(struct ufs_fs *fs, int b, int err)
{
	UFS_STAT_ADD(*(err ? &fs->br[b].st.errors : &fs->br[b].st.whiteouts), 1);
	return err;
}

int
wo_hide(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name, bool dir)
{
	return counted(fs, b, hide(fs, parent, b, name, dir));
}

static int
hide(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name, bool dir)
{
	int err;

	if (!overlay_fmt(fs)) {
		err = wo_create(fs, parent, b, name, dir);
		if (!err && dir)
			wo_remove_subtree(fs, parent, b, name);
		return err;
	}
	err = cu_dir_in_branch(fs, parent, b);
	if (err)
		return err;
	return ovl_mkwhiteout(fs, ufs_node_dfd(parent, b), name, ufs_node_dfd(parent, b));
}

/* Swap a fresh whiteout, made as tdir/tmp, in for pfd/name; the old entry
 * ends up as tdir/tmp and is removed (an emptied directory). */
static int
swap_in_whiteout(struct ufs_fs *fs, int tdir, int pfd, const char *name, bool dir)
{
	char tmp[64];
	int err;

	tmp_entry(fs, tmp, sizeof(tmp));
	err = ovl_mkwhiteout(fs, tdir, tmp, pfd);
	if (err)
		return err;
	if (renameat2(tdir, tmp, pfd, name, dir ? RENAME_EXCHANGE : 0) < 0) {
		err = -errno;
		unlinkat(tdir, tmp, 0);
		return err;
	}
	if (!dir || unlinkat(tdir, tmp, AT_REMOVEDIR) == 0)
		return 0;
	err = -errno;
	renameat2(tdir, tmp, pfd, name, RENAME_EXCHANGE);
	unlinkat(tdir, tmp, 0);
	return err;
}

/*
 * Overlay format: replace pfd/name by a whiteout in one step.  The new
 * whiteout is made in the branch's work area, so a crash leaves nothing
 * but work-area debris, which the next mount removes; where the work area
 * is on another filesystem than the directory, it is made beside it.
 */
static int
ovl_replace(struct ufs_fs *fs, int b, int pfd, const char *name, bool dir)
{
	int mfd = br_work_prepare(fs, b), wfd = -1, err;

	if (mfd >= 0)
		wfd = br_openat(mfd, UFS_WORK_DIR, O_PATH | O_DIRECTORY, 0);
	err = wfd >= 0 ? swap_in_whiteout(fs, wfd, pfd, name, dir) : -EXDEV;
	if (wfd >= 0)
		close(wfd);
	if (err == -EXDEV)
		err = swap_in_whiteout(fs, pfd, pfd, name, dir);
	return err;
}

static int replace(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name, bool dir);

int
wo_replace(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name, bool dir)
{
	return counted(fs, b, replace(fs, parent, b, name, dir));
}

static int
replace(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name, bool dir)
{
	int pfd = ufs_node_dfd(parent, b), err;

	if (overlay_fmt(fs))
		return ovl_replace(fs, b, pfd, name, dir);
	/* The marker first: if removing fails, the marker goes again and the
	 * object stays; the lower copy never shows through. */
	err = wo_create(fs, parent, b, name, dir);
	if (err)
		return err;
	if (unlinkat(pfd, name, dir ? AT_REMOVEDIR : 0) < 0) {
		err = -errno;
		wo_remove(fs, parent, b, name);
		return err;
	}
	if (dir)
		wo_remove_subtree(fs, parent, b, name);
	return 0;
}

/* overlay.opaque="y" on the directory dirfd/name. */
static int
set_opaque_xattr(struct ufs_fs *fs, int dirfd, const char *name)
{
	int fd = br_openat(dirfd, name, O_PATH | O_DIRECTORY, 0), err = 0;
	char proc[64];

	if (fd < 0)
		return fd;
	br_fd_path(fd, proc, sizeof(proc));
	if (setxattr(proc, xattr_name(fs, "opaque"), "y", 1, 0) < 0)
		err = -errno;
	close(fd);
	return err;
}

int
wo_set_opaque(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name)
{
	if (!overlay_fmt(fs))
		return wo_create(fs, parent, b, name, true);
	return set_opaque_xattr(fs, ufs_node_dfd(parent, b), name);
}

int
wo_install(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *tmp, const char *name,
	   bool dir)
{
	int pfd = ufs_node_dfd(parent, b), err = 0;

	if (dir) {
		err = set_opaque_xattr(fs, pfd, tmp);
		if (!err && renameat2(pfd, tmp, pfd, name, RENAME_EXCHANGE) < 0)
			err = -errno;
		if (!err)
			unlinkat(pfd, tmp, 0);
		return err;
	}
	return renameat(pfd, tmp, pfd, name) < 0 ? -errno : 0;
}

void
wo_tmpname(struct ufs_fs *fs, char *buf, size_t size)
{
	tmp_entry(fs, buf, size);
}

/* Delete the overlay markers inside a directory that is empty in the union,
 * so that it can be removed (they only hid lower entries). */
void
wo_purge_dir(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name)
{
	int fd = br_openat(ufs_node_dfd(parent, b), name, O_RDONLY | O_DIRECTORY, 0);
	struct dirent *de;
	const char *hides;
	bool xattr_wo;
	DIR *d;

	(void)fs;
	if (fd < 0)
		return;
	xattr_wo = wo_dir_has_xattr_whiteouts(fd);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (wo_entry_kind(fd, de->d_name, de->d_type, xattr_wo, &hides) != WO_KIND_NONE)
			unlinkat(fd, de->d_name, 0);
	closedir(d);
}
