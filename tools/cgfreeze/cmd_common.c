/*
 * cmd_common.c - checks and messages shared by the group commands.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cgfreeze.h"

int
cg_fail(const struct cg_ctx *ctx, const char *obj, int err)
{
	const char *why = strerror(err);

	if (err == EACCES || err == EPERM)
		why = "permission denied (need root, or write access to the cgroup)";
	if (obj)
		cm_error(ctx->cmd, obj, "%s", why);
	else
		cm_error(NULL, ctx->cmd, "%s", why);
	return cm_errno_exit(err);
}

int
cg_name_check(const struct cg_ctx *ctx, const char *name)
{
	const char *why;

	if (name[0] != '\0' && name[strspn(name, "/")] == '\0') {
		cm_error(ctx->cmd, name, "refusing to operate on the root cgroup");
		return CM_EX_USAGE;
	}
	why = cm_check_cgroup_name(name);
	if (why) {
		cm_error(ctx->cmd, name[0] ? name : "''", "invalid group name: %s", why);
		return CM_EX_USAGE;
	}
	return CM_EX_OK;
}

void
cg_json_group_begin(struct cm_json *j, const struct cg_ctx *ctx, const char *name)
{
	cm_json_obj_begin(j);
	cm_json_key(j, "name");
	cm_json_str(j, name);
	cm_json_key(j, "hierarchy");
	cm_json_str(j, cg_ver_name(ctx->ver));
}

int
cg_group_open(const struct cg_ctx *ctx, const char *name, int *gfd)
{
	int rc = cg_name_check(ctx, name);

	if (rc != CM_EX_OK)
		return rc;
	*gfd = cgfs_open_dir(ctx->rootfd, name);
	if (*gfd == -ENOENT) {
		cm_error(ctx->cmd, name, "no such group in the %s hierarchy at %s",
			 cg_ver_name(ctx->ver), ctx->root);
		return CM_EX_NOTFOUND;
	}
	if (*gfd < 0)
		return cg_fail(ctx, name, -*gfd);
	return CM_EX_OK;
}

int
cg_refuse_self(const struct cg_ctx *ctx, const char *name, int gfd)
{
	bool found = false;
	int err = cgfs_tree_has_pid(gfd, getpid(), &found);

	if (err < 0)
		return cg_fail(ctx, name, -err);
	if (found) {
		cm_error(ctx->cmd, name,
			 "group contains cgfreeze itself (PID %d); refusing, it would %s itself",
			 (int)getpid(), strcmp(ctx->cmd, "freeze") ? "kill" : "freeze");
		return CM_EX_USAGE;
	}
	return CM_EX_OK;
}

int
cg_parse_pids(const struct cg_ctx *ctx, const char *obj, int argc, char **argv, pid_t *out)
{
	for (int i = 0; i < argc; i++) {
		if (cm_parse_pid(argv[i], &out[i]) < 0) {
			cm_error(ctx->cmd, obj, "invalid PID '%s'", argv[i]);
			return CM_EX_USAGE;
		}
		if (!cgfs_pid_exists(out[i])) {
			cm_error(ctx->cmd, obj, "no such process %d", (int)out[i]);
			return CM_EX_NOTFOUND;
		}
	}
	return CM_EX_OK;
}

int
cg_ctx_error(const struct cg_ctx *ctx, int err, const char *why)
{
	if (err == -EOPNOTSUPP) {
		cm_error(NULL, ctx->cmd, "%s", why ? why : "no usable cgroup freezer");
		return CM_EX_UNSUPP;
	}
	if (why) {
		cm_error(NULL, ctx->cmd, "%s", why);
		return CM_EX_USAGE;
	}
	if (ctx->opt.root && (err == -ENOENT || err == -ENOTDIR)) {
		cm_error(ctx->cmd, ctx->opt.root, "--root is not a directory");
		return CM_EX_NOTFOUND;
	}
	return cg_fail(ctx, ctx->opt.root, -err);
}
