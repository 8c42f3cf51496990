/*
 * convert_scan.c - find every marker of a branch and decide what to do.
 *
 * The scan reads both meta trees (.unionfs/ and the legacy .unionfs-fuse/)
 * and walks the branch itself for overlay and OCI markers, recording one
 * (path, representation) pair per marker.  cv_plan() merges the pairs per
 * path, looks at what the branch holds at that path, and decides which
 * representations to keep, which one to create and which ones to drop.
 * Nothing is changed here, so a refusal leaves the branch untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "convert.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define SUFFIX_LEN (sizeof(CV_SUFFIX) - 1)

static char *
join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s%s%s", dir, *dir ? "/" : "", name) < 0)
		return NULL;
	return p;
}

/* Record one marker; takes ownership of path. */
static int
add_rep(struct cv_ctx *ctx, char *path, unsigned rep)
{
	struct cv_marker *nm;

	if (!path)
		return -ENOMEM;
	if (ctx->n == ctx->cap) {
		ctx->cap = ctx->cap ? ctx->cap * 2 : 64;
		nm = realloc(ctx->m, ctx->cap * sizeof(*nm));
		if (!nm) {
			free(path);
			return -ENOMEM;
		}
		ctx->m = nm;
	}
	memset(&ctx->m[ctx->n], 0, sizeof(ctx->m[ctx->n]));
	ctx->m[ctx->n].path = path;
	ctx->m[ctx->n++].reps = rep;
	return 0;
}

/* Record prefix/dir/name (empty parts skipped) as a stale temporary. */
static int
add_stale(struct cv_ctx *ctx, const char *prefix, const char *dir, const char *name)
{
	char *p;
	int err;

	if (asprintf(&p, "%s%s%s%s%s", prefix, *prefix ? "/" : "", dir, *dir ? "/" : "", name) < 0)
		return -ENOMEM;
	err = cv_strv_add(&ctx->stale, &ctx->nstale, &ctx->capstale, p);
	free(p);
	return err;
}

/* A name a marker may hide: "." and ".." would leave the directory. */
static bool
plain_name(const char *name)
{
	return *name && strcmp(name, ".") && strcmp(name, "..");
}

/* ---- the meta trees ---- */

static int scan_meta_dir(struct cv_ctx *ctx, int fd, const char *dir, bool legacy);

static int
note_unknown(struct cv_ctx *ctx, const char *dir, const char *name, bool legacy)
{
	char *p;

	if (ctx->unknown)
		return 0;
	if (asprintf(&p, "%s/%s%s%s", legacy ? CV_LEGACY : CV_META, dir, *dir ? "/" : "", name) < 0)
		return -ENOMEM;
	ctx->unknown = p;
	return 0;
}

static int
scan_meta_entry(struct cv_ctx *ctx, int dfd, const char *dir, const char *name, bool legacy)
{
	size_t len = strlen(name);
	struct stat st;
	char *sub;
	int fd, err;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!*dir && !legacy && !strcmp(name, CV_WORK))
		return 0; /* the daemon's work area, not a marker */
	if (!legacy && cv_is_tmpname(name))
		return ctx->to == CV_TO_UNIONFS ? add_stale(ctx, CV_META, dir, name) : 0;
	if (len > SUFFIX_LEN && !strcmp(name + len - SUFFIX_LEN, CV_SUFFIX)) {
		sub = strndup(name, len - SUFFIX_LEN);
		if (sub && !plain_name(sub)) {
			free(sub);
			return note_unknown(ctx, dir, name, legacy);
		}
		err = add_rep(ctx, sub ? join(dir, sub) : NULL,
			      S_ISDIR(st.st_mode) ? (legacy ? CV_R_LEGACY_DIR : CV_R_META_DIR)
						  : (legacy ? CV_R_LEGACY_FILE : CV_R_META_FILE));
		free(sub);
		return err;
	}
	if (!S_ISDIR(st.st_mode))
		return note_unknown(ctx, dir, name, legacy);
	fd = openat(dfd, name, DIR_FLAGS);
	sub = join(dir, name);
	if (fd < 0 || !sub) {
		err = fd < 0 ? -errno : -ENOMEM;
		if (fd >= 0)
			close(fd);
		free(sub);
		return err;
	}
	err = scan_meta_dir(ctx, fd, sub, legacy);
	free(sub);
	return err;
}

/* What scan_meta_dir passes on to each entry. */
struct meta_walk {
	struct cv_ctx *ctx;
	const char *dir;
	bool legacy;
};

static int
meta_walk_entry(int dfd, const char *name, void *arg)
{
	const struct meta_walk *w = arg;

	return scan_meta_entry(w->ctx, dfd, w->dir, name, w->legacy);
}

/* Takes ownership of fd. */
static int
scan_meta_dir(struct cv_ctx *ctx, int fd, const char *dir, bool legacy)
{
	struct meta_walk w = {ctx, dir, legacy};

	return cv_each_entry(fd, meta_walk_entry, &w);
}

static int
scan_meta(struct cv_ctx *ctx, const char *name, bool legacy)
{
	int fd = openat(ctx->rootfd, name, DIR_FLAGS);

	if (fd < 0) {
		/* A non-directory meta entry is no meta tree: leave it alone. */
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 : -errno;
	}
	if (legacy)
		ctx->has_legacy = true;
	else
		ctx->has_meta = true;
	return scan_meta_dir(ctx, fd, "", legacy);
}

/* ---- the branch tree ---- */

static const struct {
	const char *opaque, *whiteout;
	unsigned y, x, wo;
} ns[] = {
    {"trusted.overlay.opaque", "trusted.overlay.whiteout", CV_R_OPQ_TRUSTED, CV_R_XDIR_TRUSTED,
     CV_R_XWO_TRUSTED},
    {"user.overlay.opaque", "user.overlay.whiteout", CV_R_OPQ_USER, CV_R_XDIR_USER, CV_R_XWO_USER},
};

static bool
no_xattr(int err)
{
	return err == -ENODATA || err == -EOPNOTSUPP || err == -EPERM || err == -ERANGE;
}

/* The opaque xattrs of directory fd; *xdir gets the "x" bits. */
static int
scan_dir_xattrs(struct cv_ctx *ctx, int fd, const char *path, unsigned *xdir)
{
	char buf[8];
	ssize_t len;
	size_t i;
	int err;

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		len = cv_getxattr(fd, ns[i].opaque, buf, sizeof(buf));
		if (len < 0 && no_xattr((int)len))
			continue;
		if (len < 0)
			return (int)len;
		if (!strcmp(buf, "y") || !strcmp(buf, "x")) {
			err = add_rep(ctx, strdup(path), buf[0] == 'y' ? ns[i].y : ns[i].x);
			if (err)
				return err;
			*xdir |= buf[0] == 'x' ? ns[i].x : 0;
		}
	}
	return 0;
}

/* An empty regular file in a directory marked "x": an xattr whiteout? */
static int
scan_xwhiteout(struct cv_ctx *ctx, int dfd, const char *path, const char *name, unsigned xdir)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	char buf[8];
	size_t i;
	ssize_t len;
	int err = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size) {
		close(fd);
		return 0;
	}
	for (i = 0; !err && i < sizeof(ns) / sizeof(ns[0]); i++) {
		if (!(xdir & ns[i].x))
			continue;
		len = cv_getxattr(fd, ns[i].whiteout, buf, sizeof(buf));
		if (len >= 0 || len == -ERANGE)
			err = add_rep(ctx, join(path, name), ns[i].wo);
		else if (!no_xattr((int)len))
			err = (int)len;
	}
	close(fd);
	return err;
}

static int scan_tree_dir(struct cv_ctx *ctx, int fd, const char *path);

static int
scan_subdir(struct cv_ctx *ctx, int dfd, const char *path, const char *name)
{
	int fd = openat(dfd, name, DIR_FLAGS), err;
	char *sub;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	sub = join(path, name);
	if (!sub) {
		close(fd);
		return -ENOMEM;
	}
	err = scan_tree_dir(ctx, fd, sub);
	free(sub);
	return err;
}

static int
scan_tree_entry(struct cv_ctx *ctx, int dfd, const char *path, const char *name, unsigned xdir)
{
	struct stat st;

	if (!*path && (!strcmp(name, CV_META) || !strcmp(name, CV_LEGACY)))
		return 0;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode))
		return scan_subdir(ctx, dfd, path, name);
	/* Our temporary whiteouts hide nothing: left by a crash, they go. */
	if (cv_is_tmpname(name) && S_ISCHR(st.st_mode) && !st.st_rdev)
		return add_stale(ctx, "", path, name);
	if (!strcmp(name, CV_OPQ))
		return add_rep(ctx, strdup(path), CV_R_OCI_OPQ);
	/* .wh..wh.* other than .opq are aufs internals, not whiteouts. */
	if (!strncmp(name, CV_WH, 4) && plain_name(name + 4) && strncmp(name, CV_WH CV_WH, 8))
		return add_rep(ctx, join(path, name + 4), CV_R_OCI_WH);
	if (S_ISCHR(st.st_mode) && !st.st_rdev)
		return add_rep(ctx, join(path, name), CV_R_CHARDEV);
	if (S_ISREG(st.st_mode) && !st.st_size && xdir)
		return scan_xwhiteout(ctx, dfd, path, name, xdir);
	return 0;
}

/* What scan_tree_dir passes on to each entry. */
struct tree_walk {
	struct cv_ctx *ctx;
	const char *path;
	unsigned xdir;
};

static int
tree_walk_entry(int dfd, const char *name, void *arg)
{
	const struct tree_walk *w = arg;

	return scan_tree_entry(w->ctx, dfd, w->path, name, w->xdir);
}

/* Takes ownership of fd. */
static int
scan_tree_dir(struct cv_ctx *ctx, int fd, const char *path)
{
	struct tree_walk w = {ctx, path, 0};
	int err = scan_dir_xattrs(ctx, fd, path, &w.xdir);

	if (err) {
		close(fd);
		return err;
	}
	return cv_each_entry(fd, tree_walk_entry, &w);
}

int
cv_scan(struct cv_ctx *ctx)
{
	int err, fd;

	err = scan_meta(ctx, CV_META, false);
	if (!err)
		err = scan_meta(ctx, CV_LEGACY, true);
	if (err)
		return err;
	fd = openat(ctx->rootfd, ".", DIR_FLAGS);
	if (fd < 0)
		return -errno;
	return scan_tree_dir(ctx, fd, "");
}
