/*
 * cmd_list.c - mode, cgroups and ls: the read-only views.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgfreeze.h"

/* ---- mode ---- */

static void
mode_json(const struct cg_ctx *ctx, bool ok)
{
	struct cm_json j;
	const struct cg_mounts *m = &ctx->mounts;

	cm_json_init(&j, stdout);
	cm_json_obj_begin(&j);
	cm_json_key(&j, "layout");
	cm_json_str(&j, cg_layout_name(m->layout));
	cm_json_key(&j, "freezer");
	cm_json_str(&j, ok ? cg_ver_name(ctx->ver) : NULL);
	cm_json_key(&j, "root");
	cm_json_str(&j, ok ? ctx->root : NULL);
	cm_json_key(&j, "fake");
	cm_json_bool(&j, ctx->fake);
	cm_json_key(&j, "v1_freezer_mount");
	cm_json_str(&j, m->freezer);
	cm_json_key(&j, "cgroup2_mount");
	cm_json_str(&j, m->unified);
	cm_json_key(&j, "freezer_in_kernel");
	cm_json_bool(&j, m->freezer_in_kernel);
	cm_json_obj_end(&j);
	cm_json_end(&j);
}

static void
mode_text(const struct cg_ctx *ctx, bool ok)
{
	const struct cg_mounts *m = &ctx->mounts;

	printf("layout:            %s\n", cg_layout_name(m->layout));
	if (ok)
		printf("freezer in use:    %s at %s%s\n", cg_ver_name(ctx->ver), ctx->root,
		       ctx->fake ? " (plain directory tree)" : "");
	else
		printf("freezer in use:    none\n");
	printf("v1 freezer mount:  %s\n", m->freezer ? m->freezer : "-");
	printf("cgroup2 mount:     %s\n", m->unified ? m->unified : "-");
}

int
cmd_mode(struct cg_ctx *ctx, int argc, char **argv)
{
	const char *why = NULL;
	int err = cg_ctx_open(ctx, &why);

	(void)argc;
	(void)argv;
	if (err < 0 && err != -EOPNOTSUPP)
		return cg_ctx_error(ctx, err, why);
	if (ctx->opt.json)
		mode_json(ctx, err == 0);
	else
		mode_text(ctx, err == 0);
	return err < 0 ? cg_ctx_error(ctx, err, why) : CM_EX_OK;
}

/* ---- cgroups PID ---- */

/* One /proc/PID/cgroup line: "ID:CONTROLLERS:PATH". */
struct cg_line {
	char *id, *ctrls, *path;
};

static size_t
parse_proc_cgroup(char *buf, struct cg_line *lines, size_t max)
{
	char *save = NULL;
	size_t n = 0;

	for (char *l = strtok_r(buf, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c1 = *c2 = '\0';
		lines[n++] = (struct cg_line){l, c1 + 1, c2 + 1};
	}
	return n;
}

static void
cgroups_json(const struct cg_line *lines, size_t n)
{
	struct cm_json j;

	cm_json_init(&j, stdout);
	cm_json_arr_begin(&j);
	for (size_t i = 0; i < n; i++) {
		char *save = NULL, *ctrls = lines[i].ctrls;

		cm_json_obj_begin(&j);
		cm_json_key(&j, "hierarchy");
		cm_json_int(&j, strtol(lines[i].id, NULL, 10));
		cm_json_key(&j, "controllers");
		cm_json_arr_begin(&j);
		for (char *c = strtok_r(ctrls, ",", &save); c; c = strtok_r(NULL, ",", &save))
			cm_json_str(&j, c);
		cm_json_arr_end(&j);
		cm_json_key(&j, "path");
		cm_json_str(&j, lines[i].path);
		cm_json_obj_end(&j);
	}
	cm_json_arr_end(&j);
	cm_json_end(&j);
}

int
cmd_cgroups(struct cg_ctx *ctx, int argc, char **argv)
{
	char file[64], buf[16384];
	struct cg_line lines[64];
	pid_t pid;
	size_t n;
	ssize_t len;
	int w = 11;

	(void)argc;
	if (cm_parse_pid(argv[0], &pid) < 0) {
		cm_error(NULL, ctx->cmd, "invalid PID '%s'", argv[0]);
		return CM_EX_USAGE;
	}
	snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
	len = cm_read_at(AT_FDCWD, file, buf, sizeof(buf));
	if (len == -ENOENT || len == -ESRCH) {
		cm_error(ctx->cmd, argv[0], "no such process %d", (int)pid);
		return CM_EX_NOTFOUND;
	}
	if (len < 0)
		return cg_fail(ctx, argv[0], (int)-len);
	n = parse_proc_cgroup(buf, lines, sizeof(lines) / sizeof(lines[0]));
	if (ctx->opt.json) {
		cgroups_json(lines, n);
		return CM_EX_OK;
	}
	for (size_t i = 0; i < n; i++)
		if ((int)strlen(lines[i].ctrls) > w)
			w = (int)strlen(lines[i].ctrls);
	printf("%-3s  %-*s  %s\n", "ID", w, "CONTROLLERS", "PATH");
	for (size_t i = 0; i < n; i++)
		printf("%-3s  %-*s  %s\n", lines[i].id, w,
		       lines[i].ctrls[0] ? lines[i].ctrls : "(cgroup2)", lines[i].path);
	return CM_EX_OK;
}

/* ---- ls ---- */

struct ls_out {
	bool json;
	struct cm_json j;
};

/* One listed group: "ctrls:/path" text, or a JSON object. */
static void
ls_emit(const char *ctrls, const char *path, bool base, void *arg)
{
	struct ls_out *o = arg;
	char *copy, *save = NULL;
	size_t len = strlen(path);

	(void)base;
	if (!o->json) {
		printf("%s:%s\n", ctrls, path);
		return;
	}
	copy = strdup(ctrls);
	cm_json_obj_begin(&o->j);
	cm_json_key(&o->j, "controllers");
	cm_json_arr_begin(&o->j);
	for (char *c = copy ? strtok_r(copy, ",", &save) : NULL; c; c = strtok_r(NULL, ",", &save))
		cm_json_str(&o->j, c);
	cm_json_arr_end(&o->j);
	free(copy);
	while (len > 1 && path[len - 1] == '/')
		len--; /* lscgroup's trailing '/' on the base is text-only */
	copy = strndup(path, len);
	cm_json_key(&o->j, "path");
	cm_json_str(&o->j, copy ? copy : path);
	free(copy);
	cm_json_obj_end(&o->j);
}

/* Pre-order walk of a cgroup2 (or fake) tree below dfd; path holds the
 * current group's "/a/b" and has room for PATH_MAX bytes. */
static int
walk_tree(int dfd, const char *label, char *path, struct ls_out *o)
{
	size_t len = strlen(path);
	DIR *d = fdopendir(openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	struct dirent *de;
	int err = 0;

	if (!d)
		return -errno;
	while (err == 0 && (de = readdir(d))) {
		int fd;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (len + 1 + strlen(de->d_name) >= PATH_MAX)
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue; /* removed meanwhile */
		snprintf(path + len, PATH_MAX - len, "%s%s", len > 1 ? "/" : "", de->d_name);
		ls_emit(label, path, false, o);
		err = walk_tree(fd, label, path, o);
		close(fd);
		path[len] = '\0';
	}
	closedir(d);
	return err;
}

/* List the tree under rootfd/rel as LABEL:/rel lines; the base line gets
 * lscgroup's trailing '/' when it is not the root. */
static int
list_tree(int rootfd, const char *label, const char *rel, struct ls_out *o)
{
	char path[PATH_MAX], base[PATH_MAX];
	int err, fd = cgfs_open_dir(rootfd, rel);

	if (fd < 0)
		return fd;
	snprintf(path, sizeof(path), "/%s", rel);
	snprintf(base, sizeof(base), "/%s%s", rel, rel[0] ? "/" : "");
	ls_emit(label, base, true, o);
	err = walk_tree(fd, label, path, o);
	close(fd);
	return err;
}

/* Split "CTRL[:PATH]"; *rel is PATH without leading slashes. */
static int
ls_parse(struct cg_ctx *ctx, char *spec, const char **ctrl, const char **rel)
{
	char *colon = strchr(spec, ':');

	*ctrl = spec;
	*rel = "";
	if (colon) {
		*colon = '\0';
		*rel = colon + 1 + strspn(colon + 1, "/");
	}
	if (!**ctrl) {
		cm_error(NULL, ctx->cmd, "empty controller name (expected CONTROLLER[:PATH])");
		return CM_EX_USAGE;
	}
	if (**rel && cm_check_cgroup_name(*rel)) {
		cm_error(ctx->cmd, colon + 1, "invalid group path: %s", cm_check_cgroup_name(*rel));
		return CM_EX_USAGE;
	}
	return CM_EX_OK;
}

/* The v1 part through libcgroup, so the lines match lscgroup's. */
static int
ls_v1(const char *ctrl, const char *rel, struct ls_out *o)
{
	char path[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "%s%s", rel[0] ? "/" : "", rel);
	if (ctrl && rel[0]) {
		int fd, mfd;
		char *mnt = NULL;

		err = v1_lib_mount(ctrl, &mnt);
		if (err < 0)
			return err == -EOPNOTSUPP ? -ENODEV : err;
		mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		err = mfd < 0 ? -errno : 0;
		free(mnt);
		if (err < 0)
			return err;
		fd = cgfs_open_dir(mfd, rel);
		close(mfd);
		if (fd < 0)
			return fd;
		close(fd);
	}
	err = v1_lib_list(ctrl, path, ls_emit, o);
	return err == -ENOENT && ctrl ? -ENODEV : err;
}

static int
ls_run(struct cg_ctx *ctx, const char *ctrl, const char *rel, struct ls_out *o)
{
	int err = 0;
	const char *why;

	if (ctx->opt.root) {
		err = cg_ctx_open(ctx, &why);
		if (err < 0)
			return err;
		const char *label = ctx->ver == CG_V1 ? "freezer" : "cgroup2";

		if (ctrl && strcmp(ctrl, label))
			return -ENODEV;
		return list_tree(ctx->rootfd, label, rel, o);
	}
	if ((err = cg_mounts_scan(&ctx->mounts)) < 0)
		return err;
	if (!ctrl || strcmp(ctrl, "cgroup2"))
		err = ls_v1(ctrl, rel, o);
	if (err == -EOPNOTSUPP && !ctrl)
		err = 0; /* no v1 hierarchy: only the unified tree */
	if (err == 0 && ctx->mounts.unified && (!ctrl || !strcmp(ctrl, "cgroup2"))) {
		int fd = open(ctx->mounts.unified, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		err = fd < 0 ? -errno : list_tree(fd, "cgroup2", rel, o);
		if (fd >= 0)
			close(fd);
	} else if (err == 0 && ctrl && !strcmp(ctrl, "cgroup2")) {
		err = -ENODEV;
	}
	return err;
}

int
cmd_ls(struct cg_ctx *ctx, int argc, char **argv)
{
	struct ls_out o = {.json = ctx->opt.json};
	const char *ctrl = NULL, *rel = "";
	int err, rc = argc > 0 ? ls_parse(ctx, argv[0], &ctrl, &rel) : CM_EX_OK;

	if (rc != CM_EX_OK)
		return rc;
	cm_json_init(&o.j, stdout);
	if (o.json)
		cm_json_arr_begin(&o.j);
	err = ls_run(ctx, ctrl, rel, &o);
	if (o.json) {
		cm_json_arr_end(&o.j);
		cm_json_end(&o.j);
	}
	if (err == -ENODEV) {
		cm_error(ctx->cmd, ctrl, "no such controller%s",
			 ctx->opt.root ? " under --root" : "");
		return CM_EX_NOTFOUND;
	}
	if (err == -ENOENT) {
		cm_error(ctx->cmd, rel, "no such group in the %s hierarchy", ctrl);
		return CM_EX_NOTFOUND;
	}
	return err < 0 ? cg_fail(ctx, argc > 0 ? argv[0] : NULL, -err) : CM_EX_OK;
}
