/*
 * mode.c - find the cgroup layout and choose the hierarchy for this run.
 *
 * libcgroup 2.0.2 has no v1/v2/hybrid detection (and ignores a cgroup2
 * mount whose cgroup.controllers is empty), so we read
 * /proc/self/mountinfo ourselves and confirm each mount with its statfs
 * magic, as systemd and libcgroup >= 3.1 do.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cgfreeze.h"

#define HINT_MOUNT_V1                                                                              \
	"the cgroup v1 freezer is not mounted and no cgroup2 was found; try: mkdir -p "            \
	"/sys/fs/cgroup/freezer && mount -t cgroup -o freezer freezer /sys/fs/cgroup/freezer"
#define HINT_NO_V1                                                                                 \
	"this kernel has no cgroup v1 freezer (CONFIG_CGROUP_FREEZER) and no cgroup2 is "          \
	"mounted; try: mount -t cgroup2 none /sys/fs/cgroup"
#define HINT_MODE_V1                                                                               \
	"the cgroup v1 freezer is not mounted (--mode v1); try: mkdir -p /sys/fs/cgroup/freezer "  \
	"&& mount -t cgroup -o freezer freezer /sys/fs/cgroup/freezer"
#define HINT_MODE_V1_NOKERNEL "this kernel has no cgroup v1 freezer (--mode v1); use --mode v2"
#define HINT_MODE_V2                                                                               \
	"cgroup2 is not mounted (--mode v2); try: mkdir -p /sys/fs/cgroup/unified && mount -t "    \
	"cgroup2 none /sys/fs/cgroup/unified"

const char *
cg_layout_name(enum cg_layout l)
{
	switch (l) {
	case CG_LAYOUT_LEGACY:
		return "legacy";
	case CG_LAYOUT_HYBRID:
		return "hybrid";
	case CG_LAYOUT_UNIFIED:
		return "unified";
	default:
		return "none";
	}
}

const char *
cg_ver_name(enum cg_ver v)
{
	return v == CG_V2 ? "v2" : "v1";
}

/* Decode mountinfo's octal escapes (\040 for space) in place. */
static void
unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static bool
opt_has(const char *opts, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = opts; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, word, len) && (p[len] == ',' || p[len] == '\0'))
			return true;
	return false;
}

static bool
magic_is(const char *path, unsigned long magic)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && (unsigned long)sf.f_type == magic;
}

/* Record one mountinfo line if it is a cgroup mount we care about. */
static int
scan_line(struct cg_mounts *m, char *line, bool *any_v1)
{
	char *f[10], *save = NULL, *dash = strstr(line, " - ");
	int n = 0;

	if (!dash)
		return 0;
	*dash = '\0';
	for (char *t = strtok_r(line, " ", &save); t && n < 5; t = strtok_r(NULL, " ", &save))
		f[n++] = t;
	save = NULL;
	for (char *t = strtok_r(dash + 3, " \n", &save); t && n < 8;
	     t = strtok_r(NULL, " \n", &save))
		f[n++] = t;
	if (n < 8)
		return 0;
	/* f[3] root, f[4] mount point, f[5] fstype, f[7] super options */
	unescape(f[3]);
	unescape(f[4]);
	if (!strcmp(f[5], "cgroup")) {
		*any_v1 = true;
		if (m->freezer || !opt_has(f[7], "freezer") || !magic_is(f[4], CGROUP_SUPER_MAGIC))
			return 0;
		m->freezer = strdup(f[4]);
		m->freezer_root = strdup(f[3]);
		return m->freezer && m->freezer_root ? 0 : -ENOMEM;
	}
	if (!strcmp(f[5], "cgroup2") && !m->unified && magic_is(f[4], CGROUP2_SUPER_MAGIC)) {
		m->unified = strdup(f[4]);
		m->unified_root = strdup(f[3]);
		return m->unified && m->unified_root ? 0 : -ENOMEM;
	}
	return 0;
}

/* /proc/cgroups tells "compiled in but unmounted" from "absent". */
static bool
freezer_in_kernel(void)
{
	char line[256], name[64];
	int hier, num, enabled;
	bool found = false;
	FILE *f = fopen("/proc/cgroups", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%63s %d %d %d", name, &hier, &num, &enabled) == 4 &&
			!strcmp(name, "freezer") && enabled;
	fclose(f);
	return found;
}

int
cg_mounts_scan(struct cg_mounts *m)
{
	char *line = NULL;
	size_t cap = 0;
	bool any_v1 = false;
	int err = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	memset(m, 0, sizeof(*m));
	if (!f)
		return -errno;
	while (err == 0 && getline(&line, &cap, f) > 0)
		err = scan_line(m, line, &any_v1);
	free(line);
	fclose(f);
	if (any_v1)
		m->layout = m->unified ? CG_LAYOUT_HYBRID : CG_LAYOUT_LEGACY;
	else
		m->layout = m->unified ? CG_LAYOUT_UNIFIED : CG_LAYOUT_NONE;
	m->freezer_in_kernel = freezer_in_kernel();
	return err;
}

void
cg_mounts_free(struct cg_mounts *m)
{
	free(m->freezer);
	free(m->freezer_root);
	free(m->unified);
	free(m->unified_root);
	memset(m, 0, sizeof(*m));
}

/* The mount the --mode selection resolves to, or NULL with *why set. */
static const char *
pick_mount(struct cg_ctx *ctx, const char **why)
{
	const struct cg_mounts *m = &ctx->mounts;

	if (ctx->opt.mode == CG_MODE_V1 || (ctx->opt.mode == CG_MODE_AUTO && m->freezer)) {
		ctx->ver = CG_V1;
		if (!m->freezer)
			*why = m->freezer_in_kernel ? HINT_MODE_V1 : HINT_MODE_V1_NOKERNEL;
		return m->freezer;
	}
	ctx->ver = CG_V2;
	if (!m->unified && ctx->opt.mode == CG_MODE_V2)
		*why = HINT_MODE_V2;
	else if (!m->unified)
		*why = m->freezer_in_kernel ? HINT_MOUNT_V1 : HINT_NO_V1;
	return m->unified;
}

/* --root DIR: a real cgroup mount (known by its magic) or a fake tree. */
static int
open_custom(struct cg_ctx *ctx, const char **why)
{
	struct statfs sf;
	const char *mnt;
	char *real;

	if (fstatfs(ctx->rootfd, &sf) < 0)
		return -errno;
	if ((unsigned long)sf.f_type == CGROUP_SUPER_MAGIC)
		ctx->ver = CG_V1;
	else if ((unsigned long)sf.f_type == CGROUP2_SUPER_MAGIC)
		ctx->ver = CG_V2;
	else
		ctx->fake = true;
	if (!ctx->fake && ctx->opt.mode != CG_MODE_AUTO &&
	    (ctx->opt.mode == CG_MODE_V1) != (ctx->ver == CG_V1)) {
		*why = ctx->ver == CG_V1 ? "--root is a cgroup v1 hierarchy but --mode v2 was given"
					 : "--root is a cgroup2 hierarchy but --mode v1 was given";
		return -EINVAL;
	}
	if (ctx->fake && ctx->opt.mode != CG_MODE_AUTO)
		ctx->ver = ctx->opt.mode == CG_MODE_V1 ? CG_V1 : CG_V2;
	else if (ctx->fake)
		ctx->ver =
		    faccessat(ctx->rootfd, "cgroup.controllers", F_OK, 0) == 0 ? CG_V2 : CG_V1;
	mnt = ctx->ver == CG_V1 ? ctx->mounts.freezer : ctx->mounts.unified;
	real = realpath(ctx->root, NULL);
	ctx->own_mount = !ctx->fake && real && mnt && !strcmp(real, mnt);
	free(real);
	ctx->use_lib = ctx->own_mount && ctx->ver == CG_V1;
	return 0;
}

int
cg_ctx_open(struct cg_ctx *ctx, const char **why)
{
	const char *mnt;
	int err = cg_mounts_scan(&ctx->mounts);

	*why = NULL;
	if (err < 0)
		return err;
	mnt = ctx->opt.root ? ctx->opt.root : pick_mount(ctx, why);
	if (!mnt)
		return -EOPNOTSUPP;
	ctx->root = strdup(mnt);
	if (!ctx->root)
		return -ENOMEM;
	ctx->rootfd = open(ctx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ctx->rootfd < 0)
		return -errno;
	if (ctx->opt.root)
		return open_custom(ctx, why);
	ctx->own_mount = true;
	ctx->use_lib = ctx->ver == CG_V1;
	return 0;
}

void
cg_ctx_close(struct cg_ctx *ctx)
{
	if (ctx->rootfd >= 0)
		close(ctx->rootfd);
	ctx->rootfd = -1;
	free(ctx->root);
	ctx->root = NULL;
	cg_mounts_free(&ctx->mounts);
}

const char *
cg_ctx_rel_path(const struct cg_ctx *ctx, const char *procpath)
{
	const char *mroot = ctx->ver == CG_V1 ? ctx->mounts.freezer_root : ctx->mounts.unified_root;
	size_t len;

	if (!ctx->own_mount || !mroot)
		return NULL;
	len = strcmp(mroot, "/") ? strlen(mroot) : 0;
	if (strncmp(procpath, mroot, len) || (procpath[len] != '/' && procpath[len] != '\0'))
		return NULL;
	procpath += len;
	while (*procpath == '/')
		procpath++;
	return procpath;
}
