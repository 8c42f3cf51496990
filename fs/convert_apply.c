/*
 * convert_apply.c - carry out a plan made by cv_plan().
 *
 * Per marker: first the new representation appears in one step (built
 * under a temporary name and renamed into place, or set as one xattr),
 * then the old ones are removed.  A crash in between leaves the path
 * hidden by both formats, which both readers agree on; a rerun finishes
 * the job.  Temporary whiteouts hide a name nobody uses, and temporary
 * directories live in the hidden work area, so a crash never shows them.
 * Directory times are kept across the change, so the union looks the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common.h"
#include "convert.h"

#define TMP_SIZE 64

static const char *
xattr_name(unsigned rep)
{
	switch (rep) {
	case CV_R_XWO_TRUSTED:
		return "trusted.overlay.whiteout";
	case CV_R_XWO_USER:
		return "user.overlay.whiteout";
	case CV_R_OPQ_TRUSTED:
	case CV_R_XDIR_TRUSTED:
		return "trusted.overlay.opaque";
	default:
		return "user.overlay.opaque";
	}
}

/* ---- creating the new representation ---- */

/* A whiteout called name in dirfd: a 0/0 character device, or, where mknod
 * is not permitted, an empty file with the whiteout xattr in a directory
 * marked "x" (overlayfs 6.7+). */
static int
make_whiteout(const struct cv_ctx *ctx, int dirfd, const char *name)
{
	unsigned wo = ctx->userxattr ? CV_R_XWO_USER : CV_R_XWO_TRUSTED;
	unsigned x = ctx->userxattr ? CV_R_XDIR_USER : CV_R_XDIR_TRUSTED;
	int fd, err = 0;

	if (mknodat(dirfd, name, S_IFCHR, makedev(0, 0)) == 0)
		return 0;
	if (errno != EPERM)
		return -errno;
	fd = openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (fsetxattr(fd, xattr_name(wo), "", 0, 0) < 0)
		err = -errno;
	close(fd);
	if (!err && fsetxattr(dirfd, xattr_name(x), "x", 1, XATTR_CREATE) < 0 && errno != EEXIST)
		err = -errno;
	if (err)
		unlinkat(dirfd, name, 0);
	return err;
}

/* The work area (.unionfs/.ufs-work), created when missing. */
static int
open_work(struct cv_ctx *ctx)
{
	struct cv_times t;
	int fd;

	cv_times_save(ctx->rootfd, &t);
	fd = cv_open_dir_mk(ctx->rootfd, CV_META "/" CV_WORK);
	cv_times_restore(ctx->rootfd, &t);
	if (fd >= 0)
		ctx->has_meta = true;
	return fd;
}

/* Mode, owner and times of dir (branch-relative) in the first lower branch
 * that has it as a directory; 0755 root otherwise. */
static int
copy_dir_attrs(const struct cv_ctx *ctx, int fd, const char *dir)
{
	struct timespec ts[2];
	struct stat st;
	size_t i;

	for (i = 0; i < ctx->nlower; i++) {
		if (!cv_lstat(ctx->lowerfd[i], dir, &st) && S_ISDIR(st.st_mode))
			break;
	}
	if (i == ctx->nlower)
		return fchown(fd, 0, 0) < 0 || fchmod(fd, 0755) < 0 ? -errno : 0;
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	if (fchown(fd, st.st_uid, st.st_gid) < 0 || fchmod(fd, st.st_mode & 07777) < 0 ||
	    futimens(fd, ts) < 0)
		return -errno;
	return 0;
}

/* Attributes of the directories built in the work area, deepest first:
 * inner is "TMP/M1/.../Mk", real the same directories' branch path. */
static int
chain_attrs(const struct cv_ctx *ctx, int wfd, char *inner, char *real, size_t k)
{
	char *a, *b;
	int fd, err = 0;

	while (!err && k--) {
		fd = cv_open_dir(wfd, inner);
		if (fd < 0)
			return fd;
		err = copy_dir_attrs(ctx, fd, real);
		close(fd);
		a = strrchr(inner, '/');
		b = strrchr(real, '/');
		if (a)
			*a = '\0';
		if (b)
			*b = '\0';
	}
	return err;
}

/* Build "TMP/M1/.../Mk/NAME" in the work area; tail is "/M1/.../Mk" or "". */
static int
build_chain(const struct cv_ctx *ctx, int wfd, const char *tmp, const char *tail, const char *name,
	    char **inner)
{
	int fd, err;

	if (asprintf(inner, "%s%s", tmp, tail) < 0) {
		*inner = NULL;
		return -ENOMEM;
	}
	if (mkdirat(wfd, tmp, 0700) < 0)
		return -errno;
	fd = cv_open_dir_mk(wfd, *inner);
	if (fd < 0)
		return fd;
	err = make_whiteout(ctx, fd, name);
	close(fd);
	return err;
}

/* Split dir into the part the branch has and the first missing component
 * (k components are missing); both caller frees. */
static int
split_missing(const char *dir, size_t k, char **have, char **first)
{
	size_t skip = strlen(dir);
	const char *top;

	while (k-- && skip)
		for (skip--; skip && dir[skip] != '/'; skip--)
			;
	top = dir + skip + (dir[skip] == '/');
	*have = strndup(dir, skip);
	*first = strndup(top, strcspn(top, "/"));
	if (*have && *first)
		return 0;
	free(*have);
	free(*first);
	return -ENOMEM;
}

/* Rename the finished chain tmp from the work area to have/first. */
static int
publish_chain(const struct cv_ctx *ctx, int wfd, const char *tmp, const char *have,
	      const char *first)
{
	int efd = cv_open_dir(ctx->rootfd, have), err = 0;
	struct cv_times t;

	if (efd < 0)
		return efd;
	cv_times_save(efd, &t);
	if (renameat2(wfd, tmp, efd, first, RENAME_NOREPLACE) < 0)
		err = -errno;
	cv_times_restore(efd, &t);
	close(efd);
	return err;
}

/* How many trailing components of dir the branch lacks right now (an
 * earlier marker may have created some since the plan was made). */
static int
count_missing(const struct cv_ctx *ctx, const char *dir, size_t *k)
{
	char *p = strdup(dir), *slash;
	int fd;

	if (!p)
		return -ENOMEM;
	for (*k = 0; (fd = cv_open_dir(ctx->rootfd, p)) == -ENOENT && *p; (*k)++) {
		slash = strrchr(p, '/');
		*(slash ? slash : p) = '\0';
	}
	free(p);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* A whiteout whose parents the branch lacks: the missing directories and
 * the whiteout are built in the work area and renamed in as one. */
static int
create_chain(struct cv_ctx *ctx, const struct cv_marker *m, const char *dir, size_t k)
{
	char tmp[TMP_SIZE], *inner = NULL, *have, *first, *real = strdup(dir);
	int wfd, err;

	if (!real)
		return -ENOMEM;
	err = split_missing(dir, k, &have, &first);
	if (err) {
		free(real);
		return err;
	}
	wfd = open_work(ctx);
	err = wfd < 0 ? wfd : 0;
	cv_tmpname(tmp, sizeof(tmp));
	if (!err)
		err = build_chain(ctx, wfd, tmp, dir + strlen(have) + !!*have + strlen(first),
				  cv_basename(m->path), &inner);
	if (!err)
		err = chain_attrs(ctx, wfd, inner, real, k);
	if (!err)
		err = publish_chain(ctx, wfd, tmp, have, first);
	if (err && wfd >= 0)
		cv_rmtree_at(wfd, tmp);
	if (wfd >= 0)
		close(wfd);
	free(inner);
	free(real);
	free(have);
	free(first);
	return err;
}

static int
create_whiteout(struct cv_ctx *ctx, const struct cv_marker *m)
{
	/* An xattr whiteout of the other namespace sits at the name: replace it. */
	unsigned flags = m->reps & (CV_R_XWO_TRUSTED | CV_R_XWO_USER) ? 0 : RENAME_NOREPLACE;
	char *dir = cv_dirname(m->path), tmp[TMP_SIZE];
	struct cv_times t;
	int fd, err;
	size_t k;

	if (!dir)
		return -ENOMEM;
	err = count_missing(ctx, dir, &k);
	if (err || k) {
		err = err ? err : create_chain(ctx, m, dir, k);
		free(dir);
		return err;
	}
	fd = cv_open_dir(ctx->rootfd, dir);
	free(dir);
	if (fd < 0)
		return fd;
	cv_times_save(fd, &t);
	cv_tmpname(tmp, sizeof(tmp));
	err = make_whiteout(ctx, fd, tmp);
	if (!err && renameat2(fd, tmp, fd, cv_basename(m->path), flags) < 0) {
		err = -errno;
		unlinkat(fd, tmp, 0);
	}
	cv_times_restore(fd, &t);
	close(fd);
	return err;
}

static int
create_opaque(const struct cv_ctx *ctx, const struct cv_marker *m)
{
	int fd = cv_open_dir(ctx->rootfd, m->path), err = 0;

	if (fd < 0)
		return fd;
	if (fsetxattr(fd, xattr_name(m->create), "y", 1, 0) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* A temporary marker (file or directory) in dfd, renamed to name. */
static int
place_meta(int dfd, const char *name, bool isdir)
{
	char tmp[TMP_SIZE];
	int fd, err = 0;

	cv_tmpname(tmp, sizeof(tmp));
	if (isdir) {
		if (mkdirat(dfd, tmp, 0755) < 0)
			return -errno;
	} else {
		fd = openat(dfd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		close(fd);
	}
	if (renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) < 0) {
		err = -errno;
		cv_rmtree_at(dfd, tmp);
	}
	return err;
}

static int
create_meta(struct cv_ctx *ctx, const struct cv_marker *m)
{
	char *dir = cv_dirname(m->path), *name = NULL;
	struct cv_times t;
	int mfd, dfd, err;

	cv_times_save(ctx->rootfd, &t);
	mfd = cv_open_dir_mk(ctx->rootfd, CV_META);
	cv_times_restore(ctx->rootfd, &t);
	dfd = mfd < 0 || !dir ? -1 : cv_open_dir_mk(mfd, dir);
	err = mfd < 0 ? mfd : !dir ? -ENOMEM : dfd < 0 ? dfd : 0;
	if (!err && asprintf(&name, "%s" CV_SUFFIX, cv_basename(m->path)) < 0) {
		name = NULL;
		err = -ENOMEM;
	}
	if (!err)
		err = place_meta(dfd, name, m->create == CV_R_META_DIR);
	if (dfd >= 0)
		close(dfd);
	if (mfd >= 0)
		close(mfd);
	free(name);
	free(dir);
	return err;
}

static int
create_rep(struct cv_ctx *ctx, const struct cv_marker *m)
{
	switch (m->create) {
	case CV_R_CHARDEV:
		return create_whiteout(ctx, m);
	case CV_R_OPQ_TRUSTED:
	case CV_R_OPQ_USER:
		return create_opaque(ctx, m);
	default:
		return create_meta(ctx, m);
	}
}

/* ---- removing the old representations ---- */

static bool
is_marker_object(const struct stat *st, unsigned rep)
{
	switch (rep) {
	case CV_R_CHARDEV:
		return S_ISCHR(st->st_mode) && !st->st_rdev;
	case CV_R_XWO_TRUSTED:
	case CV_R_XWO_USER:
		return S_ISREG(st->st_mode) && !st->st_size;
	default:
		return !S_ISDIR(st->st_mode);
	}
}

/* Unlink dir/name when it still is the marker (it may have been replaced
 * by the new one already), keeping the directory's times. */
static int
drop_entry(const struct cv_ctx *ctx, const char *dir, const char *name, unsigned rep)
{
	int fd = cv_open_dir(ctx->rootfd, dir), err = 0;
	struct cv_times t;
	struct stat st;

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		err = errno == ENOENT ? 0 : -errno;
	} else if (is_marker_object(&st, rep)) {
		cv_times_save(fd, &t);
		if (unlinkat(fd, name, 0) < 0 && errno != ENOENT)
			err = -errno;
		cv_times_restore(fd, &t);
	}
	close(fd);
	return err;
}

/* Remove an opaque xattr ("y" or "x" as rep says) from directory path. */
static int
drop_xattr(const struct cv_ctx *ctx, const char *path, unsigned rep)
{
	int fd = cv_open_dir(ctx->rootfd, path), err = 0;
	char want = rep & CV_R_XDIR ? 'x' : 'y', buf[8];

	if (fd < 0)
		return fd;
	if (cv_getxattr(fd, xattr_name(rep), buf, sizeof(buf)) == 1 && buf[0] == want &&
	    fremovexattr(fd, xattr_name(rep)) < 0 && errno != ENODATA)
		err = -errno;
	close(fd);
	return err;
}

/* The file stays a whiteout in the kept namespace: remove only the xattr. */
static int
drop_xwo_xattr(const struct cv_ctx *ctx, const char *path, unsigned rep)
{
	char *dir = cv_dirname(path);
	int dfd = dir ? cv_open_dir(ctx->rootfd, dir) : -ENOMEM, fd, err = 0;

	free(dir);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, cv_basename(path), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || (fremovexattr(fd, xattr_name(rep)) < 0 && errno != ENODATA))
		err = -errno;
	if (fd >= 0)
		close(fd);
	close(dfd);
	return err;
}

static int
drop_meta(const struct cv_ctx *ctx, const struct cv_marker *m, unsigned rep)
{
	char *dir = cv_dirname(m->path), *mdir = NULL, *name = NULL;
	int fd, err = -ENOMEM;

	if (dir &&
	    asprintf(&mdir, "%s%s%s", rep & CV_R_LEGACY ? CV_LEGACY : CV_META, *dir ? "/" : "",
		     dir) >= 0 &&
	    asprintf(&name, "%s" CV_SUFFIX, cv_basename(m->path)) >= 0) {
		fd = cv_open_dir(ctx->rootfd, mdir);
		err = fd < 0 ? (fd == -ENOENT ? 0 : fd) : cv_rmtree_at(fd, name);
		if (fd >= 0)
			close(fd);
	}
	free(name);
	free(mdir);
	free(dir);
	return err;
}

static int
drop_rep(const struct cv_ctx *ctx, const struct cv_marker *m, unsigned rep)
{
	char *dir, *name = NULL;
	int err = -ENOMEM;

	if (rep & CV_R_UNIONFS)
		return drop_meta(ctx, m, rep);
	if (rep & (CV_R_OPQ_TRUSTED | CV_R_OPQ_USER | CV_R_XDIR))
		return drop_xattr(ctx, m->path, rep);
	if (rep == CV_R_OCI_OPQ)
		return drop_entry(ctx, m->path, CV_OPQ, rep);
	if ((rep & (CV_R_XWO_TRUSTED | CV_R_XWO_USER)) &&
	    (m->keep & (CV_R_XWO_TRUSTED | CV_R_XWO_USER)))
		return drop_xwo_xattr(ctx, m->path, rep);
	dir = cv_dirname(m->path);
	if (dir &&
	    asprintf(&name, "%s%s", rep == CV_R_OCI_WH ? CV_WH : "", cv_basename(m->path)) >= 0)
		err = drop_entry(ctx, dir, name, rep);
	free(name);
	free(dir);
	return err;
}

/* ---- reporting ---- */

static unsigned
lowest_bit(unsigned v)
{
	return v & -v;
}

static void
print_change(const struct cv_ctx *ctx, const struct cv_marker *m, unsigned rep, bool first)
{
	unsigned target = m->create ? m->create : lowest_bit(m->keep & ~CV_R_XDIR);
	char *old = cv_rep_name(m, rep), *new = target ? cv_rep_name(m, target) : NULL;

	cv_print_path(stdout, m->path);
	fputs(": ", stdout);
	cv_print_esc(stdout, old ? old : "?");
	if (rep & CV_R_XDIR) {
		fputs(" removed (no xattr whiteouts of that namespace left)", stdout);
	} else if (m->kind == CV_REDUNDANT) {
		fprintf(stdout, " removed (redundant: %s", m->why);
		if (m->why_path)
			cv_print_path(stdout, m->why_path);
		fputc(')', stdout);
	} else {
		fputs(" -> ", stdout);
		cv_print_esc(stdout, new ? new : "?");
		if (first && m->create && m->missing)
			fprintf(stdout, " (with %zu parent director%s)", m->missing,
				m->missing == 1 ? "y" : "ies");
	}
	fputc('\n', stdout);
	free(old);
	free(new);
	(void)ctx;
}

/* ---- driving ---- */

static int
fail(const struct cv_ctx *ctx, const char *verb, const char *path, int err)
{
	char *obj = NULL;

	if (asprintf(&obj, "%s/%s", ctx->branch, path) < 0)
		obj = NULL;
	cm_error(verb, obj ? obj : path, "%s", strerror(-err));
	free(obj);
	return cm_errno_exit(-err);
}

/* Create, then drop; xattr "x" markers wait for the second pass. */
static int
apply_marker(struct cv_ctx *ctx, const struct cv_marker *m, bool xpass)
{
	unsigned todo = m->drop & (xpass ? CV_R_XDIR : ~CV_R_XDIR), rep;
	bool first = true;
	int err;

	if (!todo)
		return 0;
	if (!xpass && m->create && !ctx->dry_run && (err = create_rep(ctx, m)) < 0)
		return fail(ctx, "convert", m->path, err);
	for (rep = 1; rep < 1u << CV_R_COUNT; rep <<= 1) {
		if (!(todo & rep))
			continue;
		if (!ctx->dry_run && (err = drop_rep(ctx, m, rep)) < 0)
			return fail(ctx, "remove", m->path, err);
		print_change(ctx, m, rep, first);
		first = false;
		ctx->changes++;
	}
	return 0;
}

static int
apply_stale(struct cv_ctx *ctx, const char *path)
{
	char *dir = cv_dirname(path);
	int fd = dir ? cv_open_dir(ctx->rootfd, dir) : -ENOMEM, err = 0;
	struct cv_times t;

	free(dir);
	if (fd >= 0 && !ctx->dry_run) {
		cv_times_save(fd, &t);
		err = cv_rmtree_at(fd, cv_basename(path));
		cv_times_restore(fd, &t);
	}
	if (fd >= 0)
		close(fd);
	if (fd < 0 || err)
		return fail(ctx, "remove", path, fd < 0 ? fd : err);
	cv_print_path(stdout, path);
	fputs(": stale temporary removed\n", stdout);
	ctx->changes++;
	return 0;
}

/* Converting to overlay: the meta trees hold nothing but emptied markers
 * and the work area now; overlayfs would show them, so they go. */
static int
remove_meta(struct cv_ctx *ctx, const char *name)
{
	struct cv_times t;
	int err = 0;

	if (!ctx->dry_run) {
		cv_times_save(ctx->rootfd, &t);
		err = cv_rmtree_at(ctx->rootfd, name);
		cv_times_restore(ctx->rootfd, &t);
		if (err)
			return fail(ctx, "remove", name, err);
	}
	cv_print_path(stdout, name);
	fputs(": removed (meta directory of the unionfs format)\n", stdout);
	ctx->changes++;
	return 0;
}

static void
summary(const struct cv_ctx *ctx)
{
	const char *fmt = ctx->to == CV_TO_OVERLAY ? "overlay" : "unionfs";

	cv_print_esc(stdout, ctx->branch);
	if (!ctx->changes)
		printf(": nothing to convert, already in %s format\n", fmt);
	else if (ctx->dry_run)
		printf(": %lu change%s would be made (dry run)\n", ctx->changes,
		       ctx->changes == 1 ? "" : "s");
	else
		printf(": %lu change%s made, now in %s format\n", ctx->changes,
		       ctx->changes == 1 ? "" : "s", fmt);
}

int
cv_apply(struct cv_ctx *ctx)
{
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < ctx->n; i++)
		ret = apply_marker(ctx, &ctx->m[i], false);
	for (i = 0; !ret && i < ctx->n; i++)
		ret = apply_marker(ctx, &ctx->m[i], true);
	for (i = 0; !ret && i < ctx->nstale; i++)
		ret = apply_stale(ctx, ctx->stale[i]);
	if (!ret && ctx->to == CV_TO_OVERLAY && ctx->has_meta)
		ret = remove_meta(ctx, CV_META);
	if (!ret && ctx->to == CV_TO_OVERLAY && ctx->has_legacy)
		ret = remove_meta(ctx, CV_LEGACY);
	if (!ret)
		summary(ctx);
	fflush(stdout);
	return ret;
}
