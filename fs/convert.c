/*
 * convert.c - unionfs-convert: the command line.
 *
 *   unionfs-convert --to overlay|unionfs [--dry-run] [--userxattr]
 *                   [--lower DIR]... BRANCH
 *
 * Parses the arguments, opens the branch and the lower directories, then
 * scans (convert_scan.c), plans (convert_plan.c) and applies
 * (convert_apply.c).  Exit codes as DESIGN.md: 0 ok, 1 failed, 2 usage,
 * 3 not found, 4 permission, 5 unsupported.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "convert.h"

enum { OPT_TO = 256, OPT_USERXATTR, OPT_LOWER };

static const struct option long_opts[] = {
    {"to", required_argument, NULL, OPT_TO},
    {"dry-run", no_argument, NULL, 'n'},
    {"userxattr", no_argument, NULL, OPT_USERXATTR},
    {"lower", required_argument, NULL, OPT_LOWER},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: %s --to overlay|unionfs [--dry-run] [--userxattr] [--lower DIR]... BRANCH\n"
		"\n"
		"Rewrite the whiteout and opaque markers of an unmounted branch from one\n"
		"on-disk format to the other, one marker at a time, atomically.\n"
		"\n"
		"  --to overlay     kernel overlayfs format: 0/0 character devices and\n"
		"                   trusted.overlay.opaque=y; the .unionfs/ tree is removed\n"
		"  --to unionfs     unionfs-fuse format: .unionfs/PATH_HIDDEN~ markers\n"
		"  -n, --dry-run    list what would change, change nothing\n"
		"      --userxattr  write user.overlay.* xattrs (overlayfs's userxattr)\n"
		"      --lower DIR  a lower branch (repeatable, highest first): directories\n"
		"                   created for overlay whiteouts copy its mode, owner, times\n"
		"  -h, --help       show this help\n"
		"  -V, --version    show the version\n"
		"\n"
		"Both formats are read: .unionfs/ and .unionfs-fuse/ markers, 0/0 character\n"
		"devices, overlay whiteout and opaque xattrs, .wh.NAME and .wh..wh..opq.\n"
		"Exit status: 0 ok, 1 failed, 2 usage, 3 not found, 4 permission, 5 unsupported.\n",
		cm_prog());
}

/* "PROG: OBJECT: reason" (OBJECT may be NULL) and the usage exit code. */
static int
usage_error(const char *object, const char *reason)
{
	cm_error(NULL, object, "%s", reason);
	return CM_EX_USAGE;
}

/* getopt's '?': name the option itself, also inside a group like -nx. */
static int
bad_option(const char *arg)
{
	char opt[3] = {'-', (char)optopt, '\0'};

	return usage_error(optopt ? opt : arg, "unknown option (see --help)");
}

static int
add_lower(struct cv_ctx *ctx, const char *dir)
{
	int *nfd, fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		cm_error("open", dir, "%s", strerror(errno));
		return errno == ENOTDIR ? CM_EX_USAGE : cm_errno_exit(errno);
	}
	nfd = realloc(ctx->lowerfd, (ctx->nlower + 1) * sizeof(*nfd));
	if (!nfd) {
		close(fd);
		cm_error("open", dir, "%s", strerror(ENOMEM));
		return CM_EX_FAIL;
	}
	ctx->lowerfd = nfd;
	ctx->lowerfd[ctx->nlower++] = fd;
	return 0;
}

/* -1: go on; otherwise the exit code. */
static int
parse_opt(struct cv_ctx *ctx, int c, char **argv, bool *have_to)
{
	switch (c) {
	case OPT_TO:
		if (strcmp(optarg, "overlay") && strcmp(optarg, "unionfs"))
			return usage_error(optarg, "--to expects overlay or unionfs");
		ctx->to = strcmp(optarg, "overlay") ? CV_TO_UNIONFS : CV_TO_OVERLAY;
		*have_to = true;
		return -1;
	case 'n':
		ctx->dry_run = true;
		return -1;
	case OPT_USERXATTR:
		ctx->userxattr = true;
		return -1;
	case OPT_LOWER:
		c = add_lower(ctx, optarg);
		return c ? c : -1;
	case 'h':
		usage(stdout);
		return CM_EX_OK;
	case 'V':
		printf("unionfs-convert %s\n", PACKAGE_VERSION);
		return CM_EX_OK;
	case ':':
		return usage_error(argv[optind - 1], "option needs an argument");
	default:
		return bad_option(argv[optind - 1]);
	}
}

static int
parse_args(struct cv_ctx *ctx, int argc, char **argv)
{
	bool have_to = false;
	int c, ret;

	opterr = 0; /* our own one-line messages */
	while ((c = getopt_long(argc, argv, ":nhV", long_opts, NULL)) != -1) {
		ret = parse_opt(ctx, c, argv, &have_to);
		if (ret >= 0)
			return ret;
	}
	if (!have_to)
		return usage_error(NULL, "missing --to overlay|unionfs");
	if (optind != argc - 1)
		return usage_error(NULL,
				   optind == argc ? "missing BRANCH" : "more than one BRANCH");
	ctx->branch = argv[optind];
	return -1;
}

static int
open_branch(struct cv_ctx *ctx)
{
	ctx->rootfd = open(ctx->branch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ctx->rootfd >= 0)
		return 0;
	cm_error("open", ctx->branch, "%s", strerror(errno));
	return errno == ENOTDIR ? CM_EX_USAGE : cm_errno_exit(errno);
}

static void
ctx_free(struct cv_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->n; i++) {
		free(ctx->m[i].path);
		free(ctx->m[i].why_path);
	}
	free(ctx->m);
	for (i = 0; i < ctx->nstale; i++)
		free(ctx->stale[i]);
	free(ctx->stale);
	free(ctx->unknown);
	free(ctx->last_chain);
	for (i = 0; i < ctx->nlower; i++)
		close(ctx->lowerfd[i]);
	free(ctx->lowerfd);
	if (ctx->rootfd >= 0)
		close(ctx->rootfd);
}

int
main(int argc, char **argv)
{
	struct cv_ctx ctx = {.rootfd = -1};
	int ret, err;

	cm_set_prog("unionfs-convert");
	ret = parse_args(&ctx, argc, argv);
	if (ret >= 0) {
		ctx_free(&ctx);
		return ret;
	}
	ret = open_branch(&ctx);
	if (!ret && (err = cv_scan(&ctx)) < 0) {
		cm_error("read", ctx.branch, "%s", strerror(-err));
		ret = cm_errno_exit(-err);
	}
	if (!ret)
		ret = cv_plan(&ctx);
	if (!ret)
		ret = cv_apply(&ctx);
	ctx_free(&ctx);
	return ret;
}
