/*
 * connect.c - connect, disconnect, link add and link del: one veth pair
 * between two namespaces, created all-or-nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nl.h"
#include "wire.h"

/* Parse and cross-check the two endpoints; 0 or an exit code. */
static int
pair_parse(char **argv, bool addrs, struct wire_end *e, const char *verb)
{
	const char *why;

	for (int i = 0; i < 2; i++) {
		if (nn_parse_ep(argv[i], addrs, &e[i].ep, &why) < 0) {
			cm_error(verb, argv[i], "%s", why);
			return CM_EX_USAGE;
		}
	}
	if (!strcmp(e[0].ep.ns, e[1].ep.ns) && !strcmp(e[0].ep.ifname, e[1].ep.ifname)) {
		cm_error(verb, argv[1], "both ends have the same name in the same namespace");
		return CM_EX_USAGE;
	}
	return 0;
}

/* The steps after validation; every creation is logged in u. */
static int
pair_steps(struct undo_log *u, struct wire_end *e, bool create, unsigned int mtu,
	   const char *verb)
{
	int rc = 0;

	for (int i = 0; i < 2 && rc == 0; i++)
		rc = wire_open(&e[i], create, verb);
	for (int i = 0; i < 2 && rc == 0; i++)
		rc = wire_check_free(&e[i], verb);
	for (int i = 0; i < 2 && rc == 0; i++)
		rc = wire_create(u, &e[i], verb);
	if (rc == 0)
		rc = wire_veth(u, &e[0], &e[1].ep, e[1].h.fd, mtu, verb);
	for (int i = 0; i < 2 && rc == 0; i++)
		rc = wire_setup(u, &e[i], verb);
	for (int i = 0; i < 2 && rc == 0; i++)
		wire_wait(&e[i]);
	return rc;
}

static void
pair_summary(const struct wire_end *e, const char *verb)
{
	char a[NAME_MAX + 200], b[NAME_MAX + 200];
	bool made = e[0].created || e[1].created;

	wire_describe(&e[0].ep, a, sizeof(a));
	wire_describe(&e[1].ep, b, sizeof(b));
	printf("%s %s <-> %s", verb, a, b);
	if (made)
		printf(" (created netns %s%s%s)", e[0].created ? e[0].ep.ns : "",
		       e[0].created && e[1].created && strcmp(e[0].ep.ns, e[1].ep.ns) ? ", " : "",
		       e[1].created && strcmp(e[0].ep.ns, e[1].ep.ns) ? e[1].ep.ns : "");
	putchar('\n');
}

static int
pair_cmd(char **argv, const struct nn_opts *o, bool create, const char *verb)
{
	struct wire_end e[2] = {0};
	struct undo_log *u;
	int rc, sig;

	if ((rc = pair_parse(argv, create, e, verb)) || (rc = nn_need_caps(o, verb, argv[0])))
		return rc;
	u = undo_begin(verb, argv[0]);
	if (!u)
		return nn_fail(verb, argv[0], ENOMEM, NULL);
	rc = pair_steps(u, e, create, o->mtu, verb);
	sig = undo_end(u, rc == 0);
	if (sig == 0 && rc == 0 && !o->quiet)
		pair_summary(e, create ? "connected" : "linked");
	wire_close(&e[0]);
	wire_close(&e[1]);
	return sig ? sig : rc;
}

int
cmd_connect(int argc, char **argv, const struct nn_opts *o)
{
	(void)argc;
	return pair_cmd(argv, o, true, "connect");
}

int
cmd_link_add(int argc, char **argv, const struct nn_opts *o)
{
	(void)argc;
	return pair_cmd(argv, o, false, "link add");
}

/* Delete NS:IF; with veth_only, refuse anything but a veth. */
static int
link_remove(const char *spec, const struct nn_opts *o, bool veth_only, const char *verb)
{
	struct nn_handle h = {0};
	struct nl_link link;
	struct nn_ep ep;
	const char *why;
	int rc, err;

	if (nn_parse_ep(spec, false, &ep, &why) < 0) {
		cm_error(verb, spec, "%s", why);
		return CM_EX_USAGE;
	}
	if ((rc = nn_need_caps(o, verb, spec)))
		return rc;
	err = ns_handle_open(&h, ep.ns);
	if (err < 0)
		return nn_ns_fail(verb, ep.ns, -err);
	err = nl_link_get(h.nl, ep.ifname, &link);
	if (err == -ENODEV) {
		cm_error(verb, spec, "no such interface");
		rc = CM_EX_NOTFOUND;
	} else if (err == 0 && veth_only && strcmp(link.kind, "veth")) {
		cm_error(verb, spec, "not a veth (kind %s); use nsnet link del",
			 link.kind[0] ? link.kind : "none");
		rc = CM_EX_USAGE;
	} else if (err == 0) {
		err = nl_link_del(h.nl, link.index);
	}
	if (err < 0 && rc == 0)
		rc = nn_fail(verb, spec, -err, h.nl);
	ns_handle_close(&h);
	return rc;
}

int
cmd_disconnect(int argc, char **argv, const struct nn_opts *o)
{
	(void)argc;
	return link_remove(argv[0], o, true, "disconnect");
}

int
cmd_link_del(int argc, char **argv, const struct nn_opts *o)
{
	(void)argc;
	return link_remove(argv[0], o, false, "link del");
}
