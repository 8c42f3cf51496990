/*
 * cmd_delete.c - remove a group, optionally killing what is inside.
 *
 * v1 defers SIGKILL for frozen tasks until they are thawed, so --kill sends
 * the signals first and then thaws; v2 delivers SIGKILL to frozen tasks and
 * has cgroup.kill (5.14+), which also catches tasks forking meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgfreeze.h"

/* One round: signal everything in the group.  Returns how many processes
 * were found, or -errno. */
static long
kill_round(const struct cg_ctx *ctx, const char *name, int gfd)
{
	pid_t *pids;
	size_t n;
	int err = cgfs_read_pids(gfd, "cgroup.procs", &pids, &n);

	if (err < 0)
		return err;
	if (n > 0 && ctx->ver == CG_V2 && faccessat(gfd, "cgroup.kill", F_OK, 0) == 0)
		err = cgfs_write(gfd, "cgroup.kill", "1");
	else
		for (size_t i = 0; i < n; i++)
			kill(pids[i], SIGKILL);
	free(pids);
	if (err == 0 && n > 0 && ctx->ver == CG_V1)
		err = cg_thaw_write(ctx, name, gfd); /* deferred kills land now */
	return err < 0 ? err : (long)n;
}

/* Kill until empty; *killed is the count seen in the first round. */
static int
kill_all(const struct cg_ctx *ctx, const char *name, int gfd, double timeout, long *killed)
{
	double deadline = cg_now() + timeout;
	long n;

	*killed = -1;
	while ((n = kill_round(ctx, name, gfd)) > 0) {
		if (*killed < 0)
			*killed = n;
		if (cg_interrupted)
			return -EINTR;
		if (cg_now() >= deadline)
			return -ETIMEDOUT;
		cg_sleep(10e-3);
	}
	if (*killed < 0)
		*killed = 0;
	return n < 0 ? (int)n : 0;
}

static int
remove_group(const struct cg_ctx *ctx, const char *name)
{
	const char *leaf;
	int err, pfd;

	if (ctx->use_lib)
		return v1_lib_delete(name);
	pfd = cgfs_open_parent(ctx->rootfd, name, &leaf);
	if (pfd < 0)
		return pfd;
	err = unlinkat(pfd, leaf, AT_REMOVEDIR) < 0 ? -errno : 0;
	close(pfd);
	return err;
}

/* Refuse groups with children or (without --kill) with processes. */
static int
check_removable(const struct cg_ctx *ctx, const char *name, int gfd)
{
	char child[256];
	long procs;

	if (cgfs_first_child(gfd, child, sizeof(child)) == 0) {
		cm_error(ctx->cmd, name, "group has child group '%s'; delete it first", child);
		return CM_EX_FAIL;
	}
	procs = cgfs_count(gfd, "cgroup.procs");
	if (procs < 0)
		return cg_fail(ctx, name, (int)-procs);
	if (procs > 0 && !ctx->opt.kill) {
		cm_error(ctx->cmd, name,
			 "group still has %ld process%s; use --kill or move them out", procs,
			 procs == 1 ? "" : "es");
		return CM_EX_FAIL;
	}
	return CM_EX_OK;
}

static void
report(const struct cg_ctx *ctx, const char *name, long killed)
{
	if (ctx->opt.json) {
		struct cm_json j;

		cm_json_init(&j, stdout);
		cg_json_group_begin(&j, ctx, name);
		cm_json_key(&j, "killed");
		cm_json_int(&j, killed);
		cm_json_key(&j, "deleted");
		cm_json_bool(&j, true);
		cm_json_obj_end(&j);
		cm_json_end(&j);
	} else if (!ctx->opt.quiet) {
		printf("deleted %s", name);
		if (killed > 0)
			printf(" (killed %ld process%s)", killed, killed == 1 ? "" : "es");
		putchar('\n');
	}
}

int
cmd_delete(struct cg_ctx *ctx, int argc, char **argv)
{
	const char *name = argv[0];
	double timeout = ctx->opt.timeout_set ? ctx->opt.timeout : CG_DEFAULT_TIMEOUT;
	long killed = 0;
	int gfd, err = 0, rc = cg_group_open(ctx, name, &gfd);

	(void)argc;
	if (rc != CM_EX_OK)
		return rc;
	rc = cg_refuse_self(ctx, name, gfd);
	if (rc == CM_EX_OK)
		rc = check_removable(ctx, name, gfd);
	if (rc == CM_EX_OK && ctx->opt.kill)
		err = kill_all(ctx, name, gfd, timeout, &killed);
	close(gfd);
	if (rc != CM_EX_OK)
		return rc;
	if (err == -ETIMEDOUT) {
		cm_error(ctx->cmd, name, "processes still present after %.3g s", timeout);
		return CM_EX_TIMEOUT;
	}
	if (err == -EINTR) {
		cm_error(ctx->cmd, name, "interrupted by signal %d", (int)cg_interrupted);
		return CM_EX_FAIL;
	}
	if (err == 0)
		err = remove_group(ctx, name);
	if (err == -EBUSY || err == -ENOTEMPTY) {
		cm_error(ctx->cmd, name, "group is busy (new processes or child groups appeared)");
		return CM_EX_FAIL;
	}
	if (err < 0)
		return cg_fail(ctx, name, -err);
	report(ctx, name, killed);
	return CM_EX_OK;
}
