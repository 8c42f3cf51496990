/*
 * route.c - `addr add NS:IF CIDR` and `route add NS DEST [via GW] [dev IF]`.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "nl.h"
#include "nsnet.h"

int
cmd_addr_add(int argc, char **argv, const struct nn_opts *o)
{
	struct nn_handle h = {0};
	struct nl_link link;
	struct nn_addr addr;
	struct nn_ep ep;
	const char *why;
	int rc, err;

	(void)argc;
	if (nn_parse_ep(argv[0], false, &ep, &why) < 0) {
		cm_error("addr add", argv[0], "%s", why);
		return CM_EX_USAGE;
	}
	if (nn_parse_cidr(argv[1], &addr) < 0) {
		cm_error("addr add", argv[1], "invalid address (expected A.B.C.D/LEN or IPv6/LEN)");
		return CM_EX_USAGE;
	}
	if ((rc = nn_need_caps(o, "addr add", argv[0])))
		return rc;
	err = ns_handle_open(&h, ep.ns);
	if (err < 0)
		return nn_ns_fail("addr add", ep.ns, -err);
	err = nl_link_get(h.nl, ep.ifname, &link);
	if (err == 0)
		err = nl_addr_add(h.nl, link.index, &addr);
	if (err == -ENODEV)
		cm_error("addr add", argv[0], "no such interface");
	else if (err == -EEXIST)
		cm_error("addr add", argv[1], "address already assigned to %s", argv[0]);
	rc = err == -ENODEV ? CM_EX_NOTFOUND : err == -EEXIST ? CM_EX_EXISTS : 0;
	if (err < 0 && rc == 0)
		rc = nn_fail("addr add", argv[1], -err, h.nl);
	ns_handle_close(&h);
	return rc;
}

struct rt_args {
	struct nn_addr dst, gw;
	bool have_gw;
	const char *dev;
};

/* DEST is "default", a CIDR or a plain address (a host route). */
static int
rt_parse_dest(const char *s, struct nn_addr *dst)
{
	if (!strcmp(s, "default")) {
		memset(dst, 0, sizeof(*dst));
		dst->family = AF_UNSPEC; /* decided by the gateway, else IPv4 */
		return 0;
	}
	if (strchr(s, '/'))
		return nn_parse_cidr(s, dst);
	return nn_parse_ip(s, dst);
}

static int
rt_parse_kw(int argc, char **argv, struct rt_args *a, const char **bad)
{
	for (int i = 2; i < argc; i += 2) {
		*bad = argv[i];
		if (i + 1 >= argc)
			return -EINVAL;
		if (!strcmp(argv[i], "via") && !a->have_gw) {
			*bad = argv[i + 1];
			if (nn_parse_ip(argv[i + 1], &a->gw) < 0)
				return -EINVAL;
			a->have_gw = true;
		} else if (!strcmp(argv[i], "dev") && !a->dev) {
			*bad = argv[i + 1];
			if (cm_check_ifname(argv[i + 1]))
				return -EINVAL;
			a->dev = argv[i + 1];
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

static int
rt_parse(int argc, char **argv, struct rt_args *a)
{
	const char *why = nn_check_ns_lookup(argv[0]), *bad = argv[1];

	if (why) {
		cm_error("route add", argv[0], "invalid netns name: %s", why);
		return CM_EX_USAGE;
	}
	memset(a, 0, sizeof(*a));
	if (rt_parse_dest(argv[1], &a->dst) < 0 || rt_parse_kw(argc, argv, a, &bad) < 0) {
		cm_error("route add", bad, "invalid route (expected DEST|default [via GW] [dev IF])");
		return CM_EX_USAGE;
	}
	if (!a->have_gw && !a->dev) {
		cm_error("route add", argv[1], "need a gateway (via GW) or a device (dev IF)");
		return CM_EX_USAGE;
	}
	if (a->dst.family == AF_UNSPEC)
		a->dst.family = a->have_gw ? a->gw.family : AF_INET;
	if (a->have_gw && a->gw.family != a->dst.family) {
		cm_error("route add", argv[1], "destination and gateway are of different families");
		return CM_EX_USAGE;
	}
	return 0;
}

int
cmd_route_add(int argc, char **argv, const struct nn_opts *o)
{
	struct nn_handle h = {0};
	struct nl_link link = {0};
	struct rt_args a;
	int rc, err;

	if ((rc = rt_parse(argc, argv, &a)) || (rc = nn_need_caps(o, "route add", argv[0])))
		return rc;
	err = ns_handle_open(&h, argv[0]);
	if (err < 0)
		return nn_ns_fail("route add", argv[0], -err);
	err = a.dev ? nl_link_get(h.nl, a.dev, &link) : 0;
	if (err == 0)
		err = nl_route_add(h.nl, &a.dst, a.have_gw ? &a.gw : NULL, link.index);
	if (err == -ENODEV && a.dev)
		cm_error("route add", a.dev, "no such interface in %s", argv[0]);
	else if (err == -EEXIST)
		cm_error("route add", argv[1], "route already exists");
	rc = (err == -ENODEV && a.dev) ? CM_EX_NOTFOUND : err == -EEXIST ? CM_EX_EXISTS : 0;
	if (err < 0 && rc == 0)
		rc = nn_fail("route add", argv[1], -err, h.nl);
	ns_handle_close(&h);
	return rc;
}
