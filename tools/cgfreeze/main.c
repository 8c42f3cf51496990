/*
 * main.c - cgfreeze: freeze and thaw groups of processes with the cgroup
 * freezer (v1 freezer.state or v2 cgroup.freeze).
 *
 * Parses options, checks them against the subcommand's table entry, opens
 * the hierarchy, checks privileges, and dispatches.  Keywords are matched
 * exactly (no prefix matching).
 */
#include <errno.h>
#include <getopt.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgfreeze.h"

/* Per-command options (global ones are always allowed). */
enum {
	OPT_TIMEOUT = 1 << 0,
	OPT_NOWAIT = 1 << 1,
	OPT_KILL = 1 << 2,
	OPT_THREAD = 1 << 3,
};

struct cg_cmd {
	const char *name;
	int (*fn)(struct cg_ctx *ctx, int argc, char **argv);
	int min_args, max_args; /* -1: unlimited */
	unsigned opts;
	bool ctx;      /* main opens the hierarchy before calling fn */
	bool mutating; /* changes cgroups: needs CAP_SYS_ADMIN on a real mount */
};

static const struct cg_cmd commands[] = {
    {"mode", cmd_mode, 0, 0, 0, false, false},
    {"create", cmd_create, 1, -1, 0, true, true},
    {"add", cmd_add, 1, -1, OPT_THREAD, true, true},
    {"run", cmd_run, 2, -1, 0, true, true},
    {"freeze", cmd_freeze, 1, 1, OPT_TIMEOUT | OPT_NOWAIT, true, true},
    {"thaw", cmd_thaw, 1, 1, OPT_TIMEOUT, true, true},
    {"state", cmd_state, 1, -1, 0, true, false},
    {"pids", cmd_pids, 1, 1, 0, true, false},
    {"delete", cmd_delete, 1, 1, OPT_KILL | OPT_TIMEOUT, true, true},
    {"cgroups", cmd_cgroups, 1, 1, 0, false, false},
    {"ls", cmd_ls, 0, 1, 0, false, false},
};

static const char usage_text[] =
    "Usage: cgfreeze [OPTIONS] COMMAND [ARGS]\n"
    "Freeze and thaw groups of processes with the cgroup freezer (v1 or v2).\n"
    "\n"
    "Commands:\n"
    "  mode                      show the cgroup layout and the freezer in use\n"
    "  create NAME [PID...]      create a group, optionally moving processes in\n"
    "  add NAME PID...           move whole processes (all threads) into a group\n"
    "  add NAME --thread TID     move a single thread\n"
    "  run NAME -- CMD [ARG...]  run a command inside a group (like cgexec)\n"
    "  freeze NAME               freeze and wait until really frozen\n"
    "  thaw NAME                 thaw\n"
    "  state NAME...             NAME HIERARCHY STATE SELF PARENT PROCS TASKS\n"
    "  pids NAME                 list the processes in a group\n"
    "  delete NAME [--kill]      remove a group (--kill: kill its processes first)\n"
    "  cgroups PID               show the parsed /proc/PID/cgroup\n"
    "  ls [CONTROLLER[:PATH]]    list groups, lscgroup style, plus the cgroup2 tree\n"
    "\n"
    "Options:\n"
    "  -m, --mode auto|v1|v2     freezer to use (auto: v1 when mounted, else cgroup2)\n"
    "  -r, --root DIR            use the hierarchy mounted at DIR (or a plain test tree)\n"
    "  -t, --timeout SECONDS     freeze/thaw/delete --kill wait limit (default 10)\n"
    "  -n, --no-wait             freeze: request the freeze and return at once\n"
    "  -k, --kill                delete: kill the group's processes first\n"
    "  -T, --thread TID          add: move one thread (repeatable)\n"
    "  -j, --json                print one JSON document\n"
    "  -q, --quiet               print nothing on success\n"
    "  -h, --help                show this help\n"
    "  -V, --version             show the version\n"
    "\n"
    "Exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 permission denied,\n"
    "5 not supported, 6 already exists, 7 timeout.\n";

static const struct option long_opts[] = {
    {"mode", required_argument, NULL, 'm'},
    {"root", required_argument, NULL, 'r'},
    {"timeout", required_argument, NULL, 't'},
    {"no-wait", no_argument, NULL, 'n'},
    {"kill", no_argument, NULL, 'k'},
    {"thread", required_argument, NULL, 'T'},
    {"json", no_argument, NULL, 'j'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int
add_thread(struct cg_opts *o, const char *arg)
{
	pid_t tid, *n;

	if (cm_parse_pid(arg, &tid) < 0)
		return cm_usage_error("invalid --thread TID '%s'", arg);
	n = realloc(o->tids, (o->ntids + 1) * sizeof(*n));
	if (!n)
		return CM_EX_FAIL;
	o->tids = n;
	o->tids[o->ntids++] = tid;
	return CM_EX_OK;
}

/* Handle one option; *used collects the per-command option bits; bad is
 * the argument being parsed, for messages. */
static int
parse_opt(struct cg_opts *o, int c, unsigned *used, const char *bad)
{
	switch (c) {
	case 'm':
		if (!strcmp(optarg, "auto"))
			o->mode = CG_MODE_AUTO;
		else if (!strcmp(optarg, "v1"))
			o->mode = CG_MODE_V1;
		else if (!strcmp(optarg, "v2"))
			o->mode = CG_MODE_V2;
		else
			return cm_usage_error("invalid --mode '%s' (expected auto, v1 or v2)",
					      optarg);
		return CM_EX_OK;
	case 'r':
		o->root = optarg;
		return CM_EX_OK;
	case 't':
		*used |= OPT_TIMEOUT;
		o->timeout_set = true;
		if (cm_parse_seconds(optarg, &o->timeout) < 0)
			return cm_usage_error("invalid --timeout '%s' (expected seconds)", optarg);
		return CM_EX_OK;
	case 'n':
		*used |= OPT_NOWAIT;
		o->no_wait = true;
		return CM_EX_OK;
	case 'k':
		*used |= OPT_KILL;
		o->kill = true;
		return CM_EX_OK;
	case 'T':
		*used |= OPT_THREAD;
		return add_thread(o, optarg);
	case 'j':
		o->json = true;
		return CM_EX_OK;
	case 'q':
		o->quiet = true;
		return CM_EX_OK;
	case ':':
		return cm_usage_error("option '%s' needs an argument", bad);
	default:
		return cm_usage_error("unknown option '%s'", bad);
	}
}

static const struct cg_cmd *
find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* Positional arguments: those getopt left before "--", then those after. */
struct cg_args {
	char **v;
	int n;
	int dashdash; /* index in v where the arguments after "--" begin, or -1 */
};

static int
parse_args(int argc, char **argv, struct cg_opts *o, unsigned *used, struct cg_args *a)
{
	int c, end = argc, rc;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			end = i;
			break;
		}
	opterr = 0; /* our own one-line messages */
	while ((c = getopt_long(end, argv, ":m:r:t:nkT:jqhV", long_opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage_text, stdout);
			exit(CM_EX_OK);
		}
		if (c == 'V') {
			printf("cgfreeze (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			exit(CM_EX_OK);
		}
		if ((rc = parse_opt(o, c, used, argv[optind - 1])) != CM_EX_OK)
			return rc;
	}
	a->v = calloc((size_t)argc + 1, sizeof(*a->v));
	if (!a->v)
		return CM_EX_FAIL;
	for (int i = optind; i < end; i++)
		a->v[a->n++] = argv[i];
	a->dashdash = end < argc ? a->n : -1;
	for (int i = end + 1; i < argc; i++)
		a->v[a->n++] = argv[i];
	return CM_EX_OK;
}

/* Argument counts and per-command options. */
static int
check_usage(const struct cg_cmd *cmd, unsigned used, const struct cg_args *a)
{
	int n = a->n - 1;

	static const char *const names[] = {"--timeout", "--no-wait", "--kill", "--thread"};

	for (unsigned bit = 0; bit < 4; bit++)
		if (used & ~cmd->opts & (1u << bit))
			return cm_usage_error("option %s is not valid for '%s'", names[bit],
					      cmd->name);
	if (cmd == find_cmd("run") && (a->dashdash != 2 || n < 2))
		return cm_usage_error("%s: expected run NAME -- CMD [ARG...]", cmd->name);
	if (n < cmd->min_args)
		return cm_usage_error("%s: missing argument", cmd->name);
	if (cmd->max_args >= 0 && n > cmd->max_args)
		return cm_usage_error("%s: too many arguments", cmd->name);
	return CM_EX_OK;
}

static int
dispatch(const struct cg_cmd *cmd, struct cg_ctx *ctx, struct cg_args *a)
{
	const char *why;
	int err;

	if (cmd->ctx && (err = cg_ctx_open(ctx, &why)) < 0)
		return cg_ctx_error(ctx, err, why);
	if (cmd->mutating && !ctx->fake && !cm_has_cap(CAP_SYS_ADMIN)) {
		cm_error(cmd->name, a->v[1], "need root (CAP_SYS_ADMIN)");
		return CM_EX_PERM;
	}
	if (cmd->mutating)
		cg_signals_install();
	return cmd->fn(ctx, a->n - 1, a->v + 1);
}

int
main(int argc, char **argv)
{
	struct cg_ctx ctx = {.rootfd = -1};
	struct cg_args a = {0};
	const struct cg_cmd *cmd = NULL;
	unsigned used = 0;
	int rc;

	cm_set_prog("cgfreeze");
	rc = parse_args(argc, argv, &ctx.opt, &used, &a);
	if (rc == CM_EX_OK && a.n == 0) {
		fputs(usage_text, stderr);
		rc = CM_EX_USAGE;
	}
	if (rc == CM_EX_OK && a.n > 0 && !strcmp(a.v[0], "help")) {
		fputs(usage_text, stdout);
		goto out;
	}
	if (rc == CM_EX_OK && !(cmd = find_cmd(a.v[0])))
		rc = cm_usage_error("unknown command '%s'", a.v[0]);
	if (rc == CM_EX_OK)
		rc = check_usage(cmd, used, &a);
	if (rc == CM_EX_OK) {
		ctx.cmd = cmd->name;
		rc = dispatch(cmd, &ctx, &a);
	}
out:
	cg_ctx_close(&ctx);
	free(ctx.opt.tids);
	free(a.v);
	return rc;
}
