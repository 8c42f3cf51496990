/*
 * cmd_group.c - create, add, run, pids and delete.
 *
 * Processes are moved through cgroup.procs, which moves every thread of a
 * process; v1 "tasks" (what the lab's echo and libcgroup's
 * cgroup_attach_task_pid use) would move a single thread.  Multi-step
 * commands keep an undo record: a failed create or add moves the processes
 * it already moved back to where they were and removes what it created.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgfreeze.h"

/* One process moved by this command, and where it came from. */
struct cg_move {
	pid_t pid;
	char *origin; /* /proc/PID/cgroup path before the move, or NULL */
};

static const char *
thread_file(const struct cg_ctx *ctx)
{
	return ctx->ver == CG_V1 ? "tasks" : "cgroup.threads";
}

/* Put already-moved processes back where they were (best effort). */
static void
moves_undo(const struct cg_ctx *ctx, const char *file, struct cg_move *mv, size_t n)
{
	while (n-- > 0) {
		const char *rel = mv[n].origin ? cg_ctx_rel_path(ctx, mv[n].origin) : NULL;
		int fd = rel ? cgfs_open_dir(ctx->rootfd, rel) : -1;

		if (fd >= 0) {
			cgfs_move(fd, file, mv[n].pid);
			close(fd);
		}
	}
}

static void
moves_free(struct cg_move *mv, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(mv[i].origin);
	free(mv);
}

/* Explain a failed move; returns the exit code. */
static int
move_error(const struct cg_ctx *ctx, const char *name, pid_t pid, int err)
{
	switch (err) {
	case ESRCH:
		cm_error(ctx->cmd, name, "no such process %d", (int)pid);
		return CM_EX_NOTFOUND;
	case EOPNOTSUPP:
	case EINVAL:
		if (ctx->ver == CG_V2) {
			cm_error(ctx->cmd, name, "cannot move %d: %s", (int)pid,
				 "single threads move only into a threaded cgroup v2 group "
				 "(cgroup.type 'threaded')");
			return CM_EX_UNSUPP;
		}
		break;
	case EBUSY:
		cm_error(ctx->cmd, name,
			 "cannot move %d: group has controllers enabled for "
			 "its children (cgroup v2 no-internal-process rule)",
			 (int)pid);
		return CM_EX_FAIL;
	}
	cm_error(ctx->cmd, name, "cannot move %d: %s", (int)pid,
		 err == EACCES || err == EPERM ? "permission denied" : strerror(err));
	return cm_errno_exit(err);
}

/* Move pids into gfd/file, recording each in mv[*done]; on failure undo. */
static int
moves_do(const struct cg_ctx *ctx, const char *name, int gfd, const char *file, const pid_t *pids,
	 size_t n, struct cg_move *mv, size_t *done)
{
	for (size_t i = 0; i < n; i++) {
		int err;

		mv[*done].pid = pids[i];
		mv[*done].origin = NULL;
		cgfs_proc_group(pids[i], ctx->ver, &mv[*done].origin);
		err = cgfs_move(gfd, file, pids[i]);
		if (err < 0) {
			free(mv[*done].origin);
			moves_undo(ctx, file, mv, *done);
			return move_error(ctx, name, pids[i], -err);
		}
		(*done)++;
	}
	return CM_EX_OK;
}

static void
report_json(const struct cg_ctx *ctx, const char *name, bool created, const struct cg_move *mv,
	    size_t n)
{
	struct cm_json j;

	cm_json_init(&j, stdout);
	cg_json_group_begin(&j, ctx, name);
	cm_json_key(&j, "root");
	cm_json_str(&j, ctx->root);
	cm_json_key(&j, "created");
	cm_json_bool(&j, created);
	cm_json_key(&j, "moved");
	cm_json_arr_begin(&j);
	for (size_t i = 0; i < n; i++)
		cm_json_int(&j, mv[i].pid);
	cm_json_arr_end(&j);
	cm_json_key(&j, "threads");
	cm_json_bool(&j, ctx->opt.ntids > 0);
	cm_json_obj_end(&j);
	cm_json_end(&j);
}

/* Report a finished create/add. */
static void
report_moves(const struct cg_ctx *ctx, const char *name, bool created, const struct cg_move *mv,
	     size_t n)
{
	if (ctx->opt.json) {
		report_json(ctx, name, created, mv, n);
		return;
	}
	if (ctx->opt.quiet)
		return;
	if (created)
		printf("created %s in the %s freezer hierarchy (%s/%s)\n", name,
		       cg_ver_name(ctx->ver), ctx->root, name);
	if (n == 0)
		return;
	printf("moved %zu %s into %s:", n,
	       ctx->opt.ntids ? "task(s)"
	       : n == 1	      ? "process"
			      : "processes",
	       name);
	for (size_t i = 0; i < n; i++)
		printf(" %d", (int)mv[i].pid);
	putchar('\n');
}

int
cmd_create(struct cg_ctx *ctx, int argc, char **argv)
{
	const char *name = argv[0];
	size_t n = (size_t)argc - 1, done = 0;
	pid_t *pids = calloc(n + 1, sizeof(*pids));
	struct cg_move *mv = calloc(n + 1, sizeof(*mv));
	int created = 0, gfd = -1, err, rc = cg_name_check(ctx, name);

	if (!pids || !mv)
		rc = cg_fail(ctx, name, ENOMEM);
	if (rc == CM_EX_OK)
		rc = cg_parse_pids(ctx, name, argc - 1, argv + 1, pids);
	if (rc != CM_EX_OK)
		goto out_free;
	err = cgfs_mkdir_path(ctx->rootfd, name, &created);
	if (err == -EEXIST) {
		cm_error(ctx->cmd, name, "group already exists in %s", ctx->root);
		rc = CM_EX_EXISTS;
		goto out_free;
	}
	if (err == 0 && (gfd = cgfs_open_dir(ctx->rootfd, name)) < 0)
		err = gfd;
	if (err == 0 && ctx->ver == CG_V2 && !ctx->fake &&
	    faccessat(gfd, "cgroup.freeze", F_OK, 0) < 0)
		err = -EOPNOTSUPP;
	if (err == -EOPNOTSUPP) {
		cm_error(ctx->cmd, name, "this kernel has no cgroup v2 freezer (needs Linux 5.2)");
		rc = CM_EX_UNSUPP;
	} else if (err < 0) {
		rc = cg_fail(ctx, name, -err);
	} else {
		rc = moves_do(ctx, name, gfd, "cgroup.procs", pids, n, mv, &done);
	}
	if (rc == CM_EX_OK)
		report_moves(ctx, name, true, mv, done);
	else
		cgfs_rmdir_path(ctx->rootfd, name, created);
	if (gfd >= 0)
		close(gfd);
out_free:
	moves_free(mv, done);
	free(pids);
	return rc;
}

int
cmd_add(struct cg_ctx *ctx, int argc, char **argv)
{
	const char *name = argv[0];
	size_t n = (size_t)argc - 1, done = 0;
	pid_t *pids = calloc(n + 1, sizeof(*pids));
	struct cg_move *mv = calloc(n + ctx->opt.ntids + 1, sizeof(*mv));
	int gfd = -1, rc = CM_EX_OK;

	if (!pids || !mv)
		rc = cg_fail(ctx, name, ENOMEM);
	if (rc == CM_EX_OK && n == 0 && ctx->opt.ntids == 0) {
		cm_error(ctx->cmd, name, "nothing to add: give PIDs or --thread TID");
		rc = CM_EX_USAGE;
	}
	if (rc == CM_EX_OK)
		rc = cg_group_open(ctx, name, &gfd);
	if (rc == CM_EX_OK)
		rc = cg_parse_pids(ctx, name, argc - 1, argv + 1, pids);
	for (size_t i = 0; rc == CM_EX_OK && i < ctx->opt.ntids; i++) {
		if (!cgfs_pid_exists(ctx->opt.tids[i])) {
			cm_error(ctx->cmd, name, "no such thread %d", (int)ctx->opt.tids[i]);
			rc = CM_EX_NOTFOUND;
		}
	}
	if (rc == CM_EX_OK)
		rc = moves_do(ctx, name, gfd, "cgroup.procs", pids, n, mv, &done);
	if (rc == CM_EX_OK) {
		size_t before = done;

		rc = moves_do(ctx, name, gfd, thread_file(ctx), ctx->opt.tids, ctx->opt.ntids, mv,
			      &done);
		if (rc != CM_EX_OK)
			moves_undo(ctx, "cgroup.procs", mv, before);
	}
	if (rc == CM_EX_OK)
		report_moves(ctx, name, false, mv, done);
	if (gfd >= 0)
		close(gfd);
	moves_free(mv, done);
	free(pids);
	return rc;
}

/* cgexec-like: join the group, then become the command. */
int
cmd_run(struct cg_ctx *ctx, int argc, char **argv)
{
	struct cg_status st;
	int gfd, err, rc = cg_group_open(ctx, argv[0], &gfd);

	(void)argc;
	if (rc != CM_EX_OK)
		return rc;
	err = cg_status_read(ctx, argv[0], gfd, &st);
	if (err == 0 && (st.state != CG_THAWED || st.self)) {
		cm_error(ctx->cmd, argv[0],
			 "group is %s; thaw it first (the command would "
			 "stop at once)",
			 cg_fstate_name(st.state));
		close(gfd);
		return CM_EX_FAIL;
	}
	err = err < 0 ? err : cgfs_move(gfd, "cgroup.procs", getpid());
	close(gfd);
	if (err < 0)
		return move_error(ctx, argv[0], getpid(), -err);
	cg_ctx_close(ctx);
	execvp(argv[1], argv + 1);
	err = errno;
	cm_error(ctx->cmd, argv[1], "%s", strerror(err));
	return err == ENOENT ? 127 : 126;
}

int
cmd_pids(struct cg_ctx *ctx, int argc, char **argv)
{
	pid_t *pids;
	size_t n;
	int gfd, err, rc = cg_group_open(ctx, argv[0], &gfd);

	(void)argc;
	if (rc != CM_EX_OK)
		return rc;
	err = cgfs_read_pids(gfd, "cgroup.procs", &pids, &n);
	close(gfd);
	if (err < 0)
		return cg_fail(ctx, argv[0], -err);
	if (ctx->opt.json) {
		struct cm_json j;

		cm_json_init(&j, stdout);
		cm_json_obj_begin(&j);
		cm_json_key(&j, "name");
		cm_json_str(&j, argv[0]);
		cm_json_key(&j, "pids");
		cm_json_arr_begin(&j);
		for (size_t i = 0; i < n; i++)
			cm_json_int(&j, pids[i]);
		cm_json_arr_end(&j);
		cm_json_obj_end(&j);
		cm_json_end(&j);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%d\n", (int)pids[i]);
	}
	free(pids);
	return CM_EX_OK;
}
