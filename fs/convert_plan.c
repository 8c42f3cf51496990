/*
 * convert_plan.c - turn the scanned markers into a plan.
 *
 * Per path: what does it mean (a whiteout, an opaque directory, or nothing
 * the branch does not already hide), which representations already are in
 * the target format (kept), which one must be created, and which are
 * dropped.  Everything that would make the conversion refuse is found here,
 * before the first change.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "convert.h"

static int
cmp_marker(const void *a, const void *b)
{
	return strcmp(((const struct cv_marker *)a)->path, ((const struct cv_marker *)b)->path);
}

/* Sort by path and fold the entries of one path into one marker. */
static void
merge(struct cv_ctx *ctx)
{
	size_t i, j = 0;

	if (ctx->n)
		qsort(ctx->m, ctx->n, sizeof(*ctx->m), cmp_marker);
	for (i = 0; i < ctx->n; i++) {
		if (j && !strcmp(ctx->m[j - 1].path, ctx->m[i].path)) {
			ctx->m[j - 1].reps |= ctx->m[i].reps;
			free(ctx->m[i].path);
		} else {
			ctx->m[j++] = ctx->m[i];
		}
	}
	ctx->n = j;
}

static struct cv_marker *
find(const struct cv_ctx *ctx, const char *path)
{
	struct cv_marker key = {.path = (char *)path};

	return ctx->n ? bsearch(&key, ctx->m, ctx->n, sizeof(*ctx->m), cmp_marker) : NULL;
}

static bool
not_there(int err)
{
	return err == -ENOENT || err == -ENOTDIR || err == -ELOOP;
}

static int
classify(struct cv_ctx *ctx, struct cv_marker *m)
{
	struct stat st;
	int err = cv_lstat(ctx->rootfd, m->path, &st);

	if (err && !not_there(err))
		return err;
	if (!(m->reps & (CV_R_HIDE | CV_R_OPQ)))
		m->kind = CV_NONE;
	else if (!err && S_ISDIR(st.st_mode))
		m->kind = CV_OPAQUE;
	else if (err || (m->reps & (CV_R_CHARDEV | CV_R_XWO_TRUSTED | CV_R_XWO_USER)))
		m->kind = CV_WHITEOUT;
	else {
		m->kind = CV_REDUNDANT;
		m->why = "the branch itself holds an entry there";
	}
	return 0;
}

static void
redundant(struct cv_marker *m, const char *why, char *path)
{
	m->kind = CV_REDUNDANT;
	m->why = why;
	m->why_path = path;
}

static size_t
count_components(const char *s)
{
	size_t n = *s ? 1 : 0;

	for (; *s; s++)
		n += *s == '/';
	return n;
}

/*
 * Will an earlier marker's whiteout have created directory dir?  Markers
 * are sorted, so all markers below a directory come together: the chain
 * planned last is the only one that can hold dir.
 */
static bool
planned(const struct cv_ctx *ctx, const char *dir)
{
	size_t len = strlen(dir);

	return ctx->last_chain && !strncmp(ctx->last_chain, dir, len) &&
	       (!ctx->last_chain[len] || ctx->last_chain[len] == '/');
}

/* One ancestor of a whiteout whose parent is missing: 1 when decided.
 * Takes ownership of pre; *opq holds the deepest opaque ancestor. */
static int
parent_step(struct cv_ctx *ctx, struct cv_marker *m, char *pre, const char *dir, char **opq)
{
	const struct cv_marker *a = find(ctx, pre);
	struct stat st;
	int err = cv_lstat(ctx->rootfd, pre, &st);

	if (a && a->kind == CV_WHITEOUT) {
		redundant(m, "deleted above, at ", pre);
		return 1;
	}
	if (!err && S_ISDIR(st.st_mode) && a && a->kind == CV_OPAQUE) {
		free(*opq);
		*opq = pre;
		return 0;
	}
	if (!err && S_ISDIR(st.st_mode)) {
		free(pre);
		return 0;
	}
	if (err == -ENOENT && planned(ctx, pre)) {
		free(pre);
		return 0;
	}
	if (err == -ENOENT && *opq) {
		redundant(m, "below the opaque directory ", *opq);
		*opq = NULL;
	} else if (err == -ENOENT) {
		m->missing = count_components(dir) - count_components(pre) + 1;
		free(ctx->last_chain);
		if (!(ctx->last_chain = strdup(dir)))
			err = -ENOMEM;
	} else if (!err || not_there(err)) {
		redundant(m, "below a non-directory at ", pre);
		return 1;
	}
	free(pre);
	return err == -ENOENT ? 1 : err;
}

/*
 * A unionfs marker may hide a path whose parents the branch lacks; the
 * overlay format needs them.  Unless an ancestor already hides everything
 * below it (deleted, not a directory, or opaque), count the directories to
 * create.
 */
static int
plan_parents(struct cv_ctx *ctx, struct cv_marker *m)
{
	char *dir = cv_dirname(m->path), *pre, *opq = NULL;
	const struct cv_marker *root = find(ctx, "");
	size_t pos = 0, len;
	int ret = 0;

	if (!dir)
		return -ENOMEM;
	if (root && root->kind == CV_OPAQUE && !(opq = strdup(""))) {
		free(dir);
		return -ENOMEM;
	}
	len = strlen(dir);
	while (!ret && pos < len) {
		pos += strcspn(dir + pos, "/");
		pre = strndup(dir, pos++);
		ret = pre ? parent_step(ctx, m, pre, dir, &opq) : -ENOMEM;
	}
	free(opq);
	free(dir);
	return ret < 0 ? ret : 0;
}

/* Which representations stay, which one is made, which go. */
static void
decide(struct cv_ctx *ctx, struct cv_marker *m)
{
	bool ov = ctx->to == CV_TO_OVERLAY;
	unsigned opq = ctx->userxattr ? CV_R_OPQ_USER : CV_R_OPQ_TRUSTED;
	unsigned xwo = ctx->userxattr ? CV_R_XWO_USER : CV_R_XWO_TRUSTED;
	unsigned xdir = ctx->userxattr ? CV_R_XDIR_USER : CV_R_XDIR_TRUSTED;
	unsigned canon = 0, make = 0;

	switch (m->kind) {
	case CV_WHITEOUT:
		canon = ov ? CV_R_CHARDEV | xwo : CV_R_UNIONFS;
		make = ov ? CV_R_CHARDEV : CV_R_META_FILE;
		break;
	case CV_OPAQUE:
		canon = ov ? opq : CV_R_UNIONFS;
		make = ov ? opq : CV_R_META_DIR;
		break;
	case CV_REDUNDANT:
		canon = ov ? 0 : CV_R_UNIONFS;
		break;
	case CV_NONE:
		break;
	}
	/* "x" (has xattr whiteouts) stays only in the target namespace. */
	canon |= ov ? xdir : 0;
	m->keep = m->reps & canon;
	m->create = (m->keep & ~CV_R_XDIR) ? 0 : make;
	m->drop = m->reps & ~m->keep;
}

static int
refuse(struct cv_ctx *ctx)
{
	size_t i;

	if (ctx->to == CV_TO_OVERLAY && ctx->unknown) {
		cm_error("convert", ctx->unknown,
			 "not a marker; move it out of the meta directory first");
		return CM_EX_FAIL;
	}
	for (i = 0; i < ctx->n; i++) {
		if (ctx->to == CV_TO_UNIONFS && !*ctx->m[i].path && ctx->m[i].kind == CV_OPAQUE) {
			cm_error("convert", ctx->branch,
				 "an opaque branch root cannot be expressed in the unionfs format");
			return CM_EX_UNSUPP;
		}
		if (ctx->m[i].create == CV_R_OPQ_TRUSTED && !ctx->dry_run &&
		    !cm_has_cap(CAP_SYS_ADMIN)) {
			cm_error("set", "trusted.overlay.opaque",
				 "needs CAP_SYS_ADMIN (use --userxattr for user.overlay.*)");
			return CM_EX_PERM;
		}
	}
	return 0;
}

int
cv_plan(struct cv_ctx *ctx)
{
	size_t i;
	int err = 0;

	merge(ctx);
	for (i = 0; !err && i < ctx->n; i++)
		err = classify(ctx, &ctx->m[i]);
	for (i = 0; !err && i < ctx->n; i++) {
		if (ctx->to == CV_TO_OVERLAY && ctx->m[i].kind == CV_WHITEOUT &&
		    !(ctx->m[i].reps & (CV_R_CHARDEV | CV_R_XWO_TRUSTED | CV_R_XWO_USER)))
			err = plan_parents(ctx, &ctx->m[i]);
	}
	if (err) {
		cm_error("read", ctx->branch, "%s", strerror(-err));
		return cm_errno_exit(-err);
	}
	for (i = 0; i < ctx->n; i++)
		decide(ctx, &ctx->m[i]);
	return refuse(ctx);
}

static const char *
ns_name(unsigned rep)
{
	switch (rep) {
	case CV_R_XWO_TRUSTED:
		return "trusted.overlay.whiteout file";
	case CV_R_XWO_USER:
		return "user.overlay.whiteout file";
	case CV_R_OPQ_TRUSTED:
		return "trusted.overlay.opaque=y";
	case CV_R_OPQ_USER:
		return "user.overlay.opaque=y";
	case CV_R_XDIR_TRUSTED:
		return "trusted.overlay.opaque=x";
	case CV_R_XDIR_USER:
		return "user.overlay.opaque=x";
	default:
		return "character device 0/0";
	}
}

char *
cv_rep_name(const struct cv_marker *m, unsigned rep)
{
	const char *meta = rep & CV_R_LEGACY ? CV_LEGACY : CV_META;
	char *dir, *s = NULL;
	int r;

	if (rep & CV_R_UNIONFS) {
		r = asprintf(&s, "%s/%s" CV_SUFFIX "%s", meta, m->path,
			     rep & (CV_R_META_DIR | CV_R_LEGACY_DIR) ? "/" : "");
	} else if (rep == CV_R_OCI_WH) {
		dir = cv_dirname(m->path);
		r = dir ? asprintf(&s, "%s%s" CV_WH "%s", dir, *dir ? "/" : "",
				   cv_basename(m->path))
			: -1;
		free(dir);
	} else if (rep == CV_R_OCI_OPQ) {
		r = asprintf(&s, "%s%s" CV_OPQ, m->path, *m->path ? "/" : "");
	} else {
		r = (s = strdup(ns_name(rep))) ? 0 : -1;
	}
	return r < 0 ? NULL : s;
}
