/*
 * nsnet.c - command line: global options, the command table, usage and
 * the error/permission helpers every command shares.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>

#include "nsnet.h"
#include "nl.h"

enum {
	OPT_NO_LO = 256,
	OPT_EXIST_OK,
	OPT_MISSING_OK,
	OPT_ALL,
	OPT_STRICT,
	OPT_MTU,
	OPT_VERSION,
};

static const struct option nn_longopts[] = {
	{"json", no_argument, NULL, 'j'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{"no-lo", no_argument, NULL, OPT_NO_LO},
	{"exist-ok", no_argument, NULL, OPT_EXIST_OK},
	{"missing-ok", no_argument, NULL, OPT_MISSING_OK},
	{"all", no_argument, NULL, OPT_ALL},
	{"strict", no_argument, NULL, OPT_STRICT},
	{"mtu", required_argument, NULL, OPT_MTU},
	{"count", required_argument, NULL, 'c'},
	{"timeout", required_argument, NULL, 'W'},
	{"interval", required_argument, NULL, 'i'},
	{NULL, 0, NULL, 0},
};

#define ROOT_NET ((1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_NET_ADMIN))
#define ROOT_RAW ((1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_NET_RAW))

struct nn_cmd {
	const char *name, *sub; /* "link" "add"; sub NULL when there is none */
	nn_cmd_fn fn;
	const char *opts; /* option letters beyond -j -q -h (see opt_letter) */
	int min, max;	  /* positional arguments; max -1 = unlimited */
	unsigned long long caps;
	const char *usage;
};

/* Letters used in opts: L no-lo, E exist-ok, M missing-ok, A all, S strict,
 * m mtu, c count, W timeout, i interval. */
static const struct nn_cmd nn_cmds[] = {
	{"list", NULL, cmd_list, "", 0, 0, 0, "list [--json]"},
	{"add", NULL, cmd_add, "LE", 1, -1, ROOT_NET, "add NAME... [--no-lo] [--exist-ok]"},
	{"del", NULL, cmd_del, "MA", 0, -1, ROOT_NET, "del NAME... [--missing-ok] | del --all"},
	{"attach", NULL, cmd_attach, "", 2, 2, ROOT_NET, "attach NAME PID"},
	{"exec", NULL, cmd_exec, "", 2, -1, ROOT_NET, "exec NAME [--] CMD [ARG...]"},
	{"identify", NULL, cmd_identify, "S", 0, 1, 0, "identify [PID] [--strict]"},
	{"pids", NULL, cmd_pids, "", 1, 1, 0, "pids NAME"},
	{"ns", NULL, cmd_ns, "", 1, 1, 0, "ns PID"},
	{"link", "add", cmd_link_add, "m", 2, 2, ROOT_NET, "link add NS1:IF1 NS2:IF2 [--mtu N]"},
	{"link", "del", cmd_link_del, "", 1, 1, ROOT_NET, "link del NS:IF"},
	{"addr", "add", cmd_addr_add, "", 2, 2, ROOT_NET, "addr add NS:IF CIDR"},
	{"route", "add", cmd_route_add, "", 2, 6, ROOT_NET,
	 "route add NS DEST|default [via GW] [dev IF]"},
	{"connect", NULL, cmd_connect, "m", 2, 2, ROOT_NET,
	 "connect NS1:IF1[=CIDR[,CIDR...]] NS2:IF2[=CIDR[,CIDR...]] [--mtu N]"},
	{"disconnect", NULL, cmd_disconnect, "", 1, 1, ROOT_NET, "disconnect NS:IF"},
	{"bridge", "del", cmd_bridge_del, "", 1, 1, ROOT_NET, "bridge del NAME"},
	{"bridge", NULL, cmd_bridge, "m", 2, -1, ROOT_NET, "bridge NAME NS:IF[=CIDR[,CIDR...]]..."},
	{"ping", NULL, cmd_ping, "cWi", 2, 2, ROOT_RAW,
	 "ping NS DEST [-c COUNT] [-W SEC] [-i SEC] [--json]"},
};

#define NN_NCMDS (sizeof(nn_cmds) / sizeof(nn_cmds[0]))

static void
usage(FILE *out)
{
	fputs("Usage: nsnet [OPTIONS] COMMAND [ARGS...]\n"
	      "Named network namespaces and veth wiring, compatible with `ip netns`.\n\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < NN_NCMDS; i++)
		fprintf(out, "  nsnet %s\n", nn_cmds[i].usage);
	fputs("\nOptions:\n"
	      "  -j, --json        print one JSON document (list, identify, pids, ns, ping)\n"
	      "  -q, --quiet       print nothing on success\n"
	      "  -h, --help        show this help (after a command: that command's usage)\n"
	      "      --version     show the version\n\n"
	      "NS is a name under /run/netns (\".\" in NS:IF means the current netns).\n"
	      "Exit status: 0 ok, 1 failed, 2 usage, 3 not found, 4 permission denied,\n"
	      "5 unsupported, 6 already exists; ping: 0 replies, 1 no reply, 2 error.\n"
	      "See nsnet(8).\n",
	      out);
}

int
nn_fail(const char *verb, const char *obj, int err, const struct nl_sock *nl)
{
	const char *ext = nl && nl->ext[0] ? nl->ext : NULL;

	if (ext)
		cm_error(verb, obj, "%s (%s)", strerror(err), ext);
	else
		cm_error(verb, obj, "%s", strerror(err));
	return err == ESTALE ? CM_EX_FAIL : cm_errno_exit(err);
}

static int
nn_check_caps(const char *verb, const char *obj, unsigned long long caps)
{
	for (int cap = 0; cap < 64; cap++) {
		if ((caps >> cap & 1) && !cm_has_cap(cap)) {
			cm_error(verb, obj, "need root (%s)",
				 caps == ROOT_RAW ? "CAP_SYS_ADMIN and CAP_NET_RAW"
						  : "CAP_SYS_ADMIN and CAP_NET_ADMIN");
			return CM_EX_PERM;
		}
	}
	return 0;
}

int
nn_need_caps(const struct nn_opts *o, const char *verb, const char *obj)
{
	return nn_check_caps(verb, obj, o->caps);
}

/* Apply one parsed option to o; -EINVAL with a message for a bad value. */
static int
opt_apply(struct nn_opts *o, int c, const char *arg, const char *verb)
{
	unsigned long v;

	switch (c) {
	case 'j': o->json = true; break;
	case 'q': o->quiet = true; break;
	case OPT_NO_LO: o->no_lo = true; break;
	case OPT_EXIST_OK: o->exist_ok = true; break;
	case OPT_MISSING_OK: o->missing_ok = true; break;
	case OPT_ALL: o->all = true; break;
	case OPT_STRICT: o->strict = true; break;
	case OPT_MTU:
		if (cm_parse_uint(arg, 65535, &v) < 0 || v < 68) {
			cm_error(verb, arg, "invalid MTU (expected 68..65535)");
			return -EINVAL;
		}
		o->mtu = (unsigned int)v;
		break;
	case 'c':
		if (cm_parse_uint(arg, 1000000000UL, &v) < 0 || v == 0) {
			cm_error(verb, arg, "invalid count (expected a positive integer)");
			return -EINVAL;
		}
		o->count = v;
		break;
	case 'W':
	case 'i':
		if (cm_parse_seconds(arg, c == 'W' ? &o->wait_s : &o->interval_s) < 0 ||
		    (c == 'i' && o->interval_s < 0.001)) {
			cm_error(verb, arg, "invalid number of seconds");
			return -EINVAL;
		}
		break;
	}
	return 0;
}

/* The letter under which a command lists an option, 0 for -j/-q/-h. */
static int
opt_letter(int c)
{
	static const int map[][2] = {{OPT_NO_LO, 'L'},	    {OPT_EXIST_OK, 'E'}, {OPT_MISSING_OK, 'M'},
				     {OPT_ALL, 'A'},	    {OPT_STRICT, 'S'},	 {OPT_MTU, 'm'},
				     {'c', 'c'},	    {'W', 'W'},		 {'i', 'i'}};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i][0] == c)
			return map[i][1];
	return 0;
}

static void
cmd_usage_error(const struct nn_cmd *cmd, const char *why)
{
	if (cmd->sub)
		cm_error(cmd->name, cmd->sub, "%s", why);
	else
		cm_error(NULL, cmd->name, "%s", why); /* cm_error wants an object */
	fprintf(stderr, "Usage: nsnet %s\n", cmd->usage);
}

/* Parse a command's options (argv[0] is the command word); returns the
 * index of the first positional argument, or -exit code. */
static int
cmd_parse(const struct nn_cmd *cmd, int argc, char **argv, struct nn_opts *o)
{
	/* exec stops at its first positional so the command keeps its options. */
	const char *shortopts = cmd->fn == cmd_exec ? "+:jqhc:W:i:" : ":jqhc:W:i:";
	int c, letter;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, nn_longopts, NULL)) != -1) {
		if (c == 'h') {
			printf("Usage: nsnet %s\n", cmd->usage);
			return -CM_EX_OK - 1000; /* handled: exit 0 */
		}
		letter = opt_letter(c);
		if (c == '?' || c == ':' || c == OPT_VERSION || (letter && !strchr(cmd->opts, letter))) {
			cmd_usage_error(cmd, c == ':' ? "option needs a value" : "unknown option");
			return -CM_EX_USAGE;
		}
		if (opt_apply(o, c, optarg, cmd->name) < 0)
			return -CM_EX_USAGE;
	}
	return optind;
}

static const struct nn_cmd *
cmd_find(int argc, char **argv, int *skip)
{
	for (size_t i = 0; i < NN_NCMDS; i++) {
		const struct nn_cmd *cmd = &nn_cmds[i];

		if (strcmp(cmd->name, argv[0]))
			continue;
		*skip = cmd->sub ? 2 : 1;
		if (!cmd->sub || (argc > 1 && !strcmp(argv[1], cmd->sub)))
			return cmd;
	}
	return NULL;
}

static int
cmd_run(const struct nn_cmd *cmd, int argc, char **argv, struct nn_opts *o)
{
	int first = cmd_parse(cmd, argc, argv, o);
	int npos;

	if (first == -CM_EX_OK - 1000)
		return CM_EX_OK;
	if (first < 0)
		return -first;
	o->caps = cmd->caps;
	npos = argc - first;
	if (npos < cmd->min || (cmd->max >= 0 && npos > cmd->max)) {
		cmd_usage_error(cmd, npos < cmd->min ? "missing argument" : "too many arguments");
		return CM_EX_USAGE;
	}
	return cmd->fn(npos, argv + first, o);
}

static int
main_dispatch(int argc, char **argv, struct nn_opts *o)
{
	const struct nn_cmd *cmd;
	int skip = 1;

	cmd = cmd_find(argc, argv, &skip);
	if (!cmd) {
		bool known = false;

		for (size_t i = 0; i < NN_NCMDS; i++)
			known |= !strcmp(nn_cmds[i].name, argv[0]);
		cm_error(NULL, argv[0], known ? "missing or unknown subcommand (see nsnet --help)"
					      : "unknown command (see nsnet --help)");
		return CM_EX_USAGE;
	}
	/* Hand over the words after the (sub)command, with the command word in
	 * front as getopt's argv[0]. */
	argv[skip - 1] = argv[0];
	return cmd_run(cmd, argc - skip + 1, argv + skip - 1, o);
}

int
main(int argc, char **argv)
{
	struct nn_opts o = {.wait_s = 10.0, .interval_s = 1.0};
	int c;

	cm_set_prog("nsnet");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+jqh", nn_longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return CM_EX_OK;
		}
		if (c == OPT_VERSION) {
			printf("nsnet (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return CM_EX_OK;
		}
		if (c != 'j' && c != 'q') {
			cm_error(NULL, argv[optind - 1], "unknown option (see nsnet --help)");
			return CM_EX_USAGE;
		}
		opt_apply(&o, c, NULL, NULL);
	}
	if (optind >= argc) {
		fprintf(stderr, "%s: missing command (see nsnet --help)\n", cm_prog());
		return CM_EX_USAGE;
	}
	return main_dispatch(argc - optind, argv + optind, &o);
}
