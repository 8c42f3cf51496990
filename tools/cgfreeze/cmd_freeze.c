/*
 * cmd_freeze.c - freeze, thaw and state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgfreeze.h"

static double
cmd_timeout(const struct cg_ctx *ctx)
{
	return ctx->opt.timeout_set ? ctx->opt.timeout : CG_DEFAULT_TIMEOUT;
}

static void
json_status(struct cm_json *j, const struct cg_ctx *ctx, const char *name,
	    const struct cg_status *st)
{
	cg_json_group_begin(j, ctx, name);
	cm_json_key(j, "state");
	cm_json_str(j, cg_fstate_name(st->state));
	cm_json_key(j, "self_freezing");
	cm_json_bool(j, st->self);
	cm_json_key(j, "parent_freezing");
	cm_json_bool(j, st->parent);
	cm_json_key(j, "procs");
	cm_json_int(j, st->procs);
	cm_json_key(j, "tasks");
	cm_json_int(j, st->tasks);
}

/* Print the outcome of freeze/thaw: "NAME: FROZEN (2 processes)". */
static int
report(const struct cg_ctx *ctx, const char *name, int gfd, bool changed)
{
	struct cg_status st;
	int err = cg_status_read(ctx, name, gfd, &st);

	if (err < 0)
		return cg_fail(ctx, name, -err);
	if (ctx->opt.json) {
		struct cm_json j;

		cm_json_init(&j, stdout);
		json_status(&j, ctx, name, &st);
		cm_json_key(&j, "changed");
		cm_json_bool(&j, changed);
		cm_json_obj_end(&j);
		cm_json_end(&j);
	} else if (!ctx->opt.quiet) {
		printf("%s: %s%s (%ld process%s, %ld task%s)\n", name, changed ? "" : "already ",
		       cg_fstate_name(st.state), st.procs, st.procs == 1 ? "" : "es", st.tasks,
		       st.tasks == 1 ? "" : "s");
	}
	return CM_EX_OK;
}

/* Messages for the ways a freeze can fail (the group is thawed by then). */
static int
freeze_error(const struct cg_ctx *ctx, const char *name, int gfd, int err)
{
	struct cg_status st;

	switch (err) {
	case ETIMEDOUT:
		if (cg_status_read(ctx, name, gfd, &st) < 0)
			st.state = CG_THAWED;
		cm_error(ctx->cmd, name, "not frozen after %.3g s; thawed back (now %s)",
			 cmd_timeout(ctx), cg_fstate_name(st.state));
		return CM_EX_TIMEOUT;
	case EINTR:
		cm_error(ctx->cmd, name, "interrupted by signal %d; thawed back",
			 (int)cg_interrupted);
		return CM_EX_FAIL;
	case EPROTO:
		cm_error(ctx->cmd, name, "unexpected value in freezer.state; thawed back");
		return CM_EX_FAIL;
	case EOPNOTSUPP:
		cm_error(ctx->cmd, name, "this kernel has no cgroup v2 freezer (needs Linux 5.2)");
		return CM_EX_UNSUPP;
	}
	return cg_fail(ctx, name, err);
}

int
cmd_freeze(struct cg_ctx *ctx, int argc, char **argv)
{
	const char *name = argv[0];
	struct cg_status st;
	int gfd, err, rc = cg_group_open(ctx, name, &gfd);

	(void)argc;
	if (rc != CM_EX_OK)
		return rc;
	rc = cg_refuse_self(ctx, name, gfd);
	if (rc != CM_EX_OK)
		goto out;
	err = cg_status_read(ctx, name, gfd, &st);
	if (err == 0 && st.self && st.state == CG_FROZEN) {
		rc = report(ctx, name, gfd, false);
		goto out;
	}
	if (err == 0)
		err = cg_freeze(ctx, name, gfd, cmd_timeout(ctx), ctx->opt.no_wait);
	rc = err < 0 ? freeze_error(ctx, name, gfd, -err) : report(ctx, name, gfd, true);
out:
	close(gfd);
	return rc;
}

int
cmd_thaw(struct cg_ctx *ctx, int argc, char **argv)
{
	const char *name = argv[0];
	struct cg_status st;
	int gfd, err, rc = cg_group_open(ctx, name, &gfd);

	(void)argc;
	if (rc != CM_EX_OK)
		return rc;
	err = cg_status_read(ctx, name, gfd, &st);
	if (err == 0 && !st.self && st.state == CG_THAWED) {
		rc = report(ctx, name, gfd, false);
		goto out;
	}
	if (err == 0)
		err = cg_thaw(ctx, name, gfd, cmd_timeout(ctx));
	if (err == -EBUSY) {
		cm_error(ctx->cmd, name, "still frozen by a parent group; thaw the parent");
		rc = CM_EX_FAIL;
	} else if (err == -ETIMEDOUT) {
		cm_error(ctx->cmd, name, "not thawed after %.3g s", cmd_timeout(ctx));
		rc = CM_EX_TIMEOUT;
	} else if (err < 0) {
		rc = freeze_error(ctx, name, gfd, -err);
	} else {
		rc = report(ctx, name, gfd, true);
	}
out:
	close(gfd);
	return rc;
}

/* One row of the state table. */
struct row {
	const char *name;
	struct cg_status st;
};

static void
print_table(const struct cg_ctx *ctx, const struct row *rows, size_t n)
{
	int w = 4;

	for (size_t i = 0; i < n; i++)
		if ((int)strlen(rows[i].name) > w)
			w = (int)strlen(rows[i].name);
	printf("%-*s  %-9s  %-8s  %-4s  %-6s  %5s  %5s\n", w, "NAME", "HIERARCHY", "STATE", "SELF",
	       "PARENT", "PROCS", "TASKS");
	for (size_t i = 0; i < n; i++)
		printf("%-*s  %-9s  %-8s  %-4d  %-6d  %5ld  %5ld\n", w, rows[i].name,
		       cg_ver_name(ctx->ver), cg_fstate_name(rows[i].st.state), rows[i].st.self,
		       rows[i].st.parent, rows[i].st.procs, rows[i].st.tasks);
}

static void
print_json(const struct cg_ctx *ctx, const struct row *rows, size_t n)
{
	struct cm_json j;

	cm_json_init(&j, stdout);
	cm_json_arr_begin(&j);
	for (size_t i = 0; i < n; i++) {
		json_status(&j, ctx, rows[i].name, &rows[i].st);
		cm_json_obj_end(&j);
	}
	cm_json_arr_end(&j);
	cm_json_end(&j);
}

/* Every name is reported; the exit code is the first failure's. */
int
cmd_state(struct cg_ctx *ctx, int argc, char **argv)
{
	struct row *rows = calloc((size_t)argc, sizeof(*rows));
	size_t n = 0;
	int rc = CM_EX_OK;

	if (!rows)
		return cg_fail(ctx, NULL, ENOMEM);
	for (int i = 0; i < argc; i++) {
		int gfd, err, r = cg_group_open(ctx, argv[i], &gfd);

		if (r == CM_EX_OK) {
			err = cg_status_read(ctx, argv[i], gfd, &rows[n].st);
			r = err < 0 ? freeze_error(ctx, argv[i], gfd, -err) : CM_EX_OK;
			close(gfd);
		}
		if (r == CM_EX_OK)
			rows[n++].name = argv[i];
		else if (rc == CM_EX_OK)
			rc = r;
	}
	if (ctx->opt.json)
		print_json(ctx, rows, n);
	else if (n > 0)
		print_table(ctx, rows, n);
	free(rows);
	return rc;
}
