/*
 * bridge.c - `bridge NAME NS:IF=CIDR...`: N namespaces on one L2 segment.
 *
 * The bridge (br0) lives in its own hub namespace NAME, not on the host:
 * host bridges meet br_netfilter and FORWARD DROP policies that silently
 * drop the traffic.  Member i gets a veth whose hub end is "portI".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nl.h"
#include "wire.h"

#define BR_DEV "br0"

struct br_ctx {
	const char *name;
	struct wire_end hub;
	int br_index;
	struct wire_end *m; /* members */
	int n;
	unsigned int mtu;
};

static int
br_parse(char **argv, struct br_ctx *b)
{
	const char *why = cm_check_netns_name(argv[0]);

	if (why) {
		cm_error("bridge", argv[0], "invalid bridge (hub netns) name: %s", why);
		return CM_EX_USAGE;
	}
	for (int i = 0; i < b->n; i++) {
		if (nn_parse_ep(argv[i + 1], true, &b->m[i].ep, &why) < 0) {
			cm_error("bridge", argv[i + 1], "%s", why);
			return CM_EX_USAGE;
		}
		if (!strcmp(b->m[i].ep.ns, argv[0])) {
			cm_error("bridge", argv[i + 1], "a member cannot live in the hub netns");
			return CM_EX_USAGE;
		}
		for (int k = 0; k < i; k++) {
			if (!strcmp(b->m[k].ep.ns, b->m[i].ep.ns) &&
			    !strcmp(b->m[k].ep.ifname, b->m[i].ep.ifname)) {
				cm_error("bridge", argv[i + 1], "interface given twice");
				return CM_EX_USAGE;
			}
		}
	}
	snprintf(b->hub.ep.ns, sizeof(b->hub.ep.ns), "%s", argv[0]);
	return 0;
}

/* Create the hub netns (which must be new) and its bridge. */
static int
br_make_hub(struct undo_log *u, struct br_ctx *b)
{
	struct nl_link link = {0};
	int err, rc;

	if ((rc = wire_open(&b->hub, true, "bridge")))
		return rc;
	if (b->hub.h.nl)
		return nn_ns_fail("bridge", b->name, EEXIST);
	if ((rc = wire_create(u, &b->hub, "bridge")))
		return rc;
	if (undo_check(u) < 0)
		return WIRE_INTR;
	err = nl_bridge_add(b->hub.h.nl, BR_DEV);
	if (err == 0)
		err = nl_link_get(b->hub.h.nl, BR_DEV, &link);
	if (err == 0)
		err = nl_link_set_up(b->hub.h.nl, link.index);
	b->br_index = link.index;
	return err < 0 ? nn_fail("bridge", b->name, -err, b->hub.h.nl) : 0;
}

/* Wire member i: veth to the hub, its hub end enslaved and up. */
static int
br_member(struct undo_log *u, struct br_ctx *b, int i)
{
	struct wire_end *m = &b->m[i];
	struct wire_end port = {0};
	struct nl_link link = {0};
	int rc, err;

	snprintf(port.ep.ifname, sizeof(port.ep.ifname), "port%d", i + 1);
	if ((rc = wire_create(u, m, "bridge")) ||
	    (rc = wire_veth(u, m, &port.ep, b->hub.h.fd, b->mtu, "bridge")) ||
	    (rc = wire_setup(u, m, "bridge")))
		return rc;
	if (undo_check(u) < 0)
		return WIRE_INTR;
	port.h = b->hub.h; /* borrowed, not closed here */
	err = nl_link_get(port.h.nl, port.ep.ifname, &link);
	port.index = link.index;
	if (err == 0)
		err = nl_link_set_master(port.h.nl, port.index, b->br_index);
	if (err == 0)
		err = nl_link_set_up(port.h.nl, port.index);
	if (err == 0)
		wire_wait(&port);
	return err < 0 ? nn_fail("bridge", port.ep.ifname, -err, port.h.nl) : 0;
}

static int
br_steps(struct undo_log *u, struct br_ctx *b)
{
	int rc = 0;

	for (int i = 0; i < b->n && rc == 0; i++)
		rc = wire_open(&b->m[i], true, "bridge");
	for (int i = 0; i < b->n && rc == 0; i++)
		rc = wire_check_free(&b->m[i], "bridge");
	if (rc == 0)
		rc = br_make_hub(u, b);
	for (int i = 0; i < b->n && rc == 0; i++)
		rc = br_member(u, b, i);
	for (int i = 0; i < b->n && rc == 0; i++)
		wire_wait(&b->m[i]);
	return rc;
}

static void
br_summary(const struct br_ctx *b)
{
	char d[NAME_MAX + 200];

	printf("bridge %s: %s in netns %s with", b->name, BR_DEV, b->name);
	for (int i = 0; i < b->n; i++) {
		wire_describe(&b->m[i].ep, d, sizeof(d));
		printf(" %s", d);
	}
	putchar('\n');
}

int
cmd_bridge(int argc, char **argv, const struct nn_opts *o)
{
	struct br_ctx b = {.name = argv[0], .n = argc - 1, .mtu = o->mtu};
	struct undo_log *u = NULL;
	int rc, sig = 0;

	b.m = calloc((size_t)b.n, sizeof(*b.m));
	if (!b.m)
		return nn_fail("bridge", argv[0], ENOMEM, NULL);
	rc = br_parse(argv, &b);
	if (rc == 0)
		rc = nn_need_caps(o, "bridge", argv[0]);
	if (rc == 0 && !(u = undo_begin("bridge", argv[0])))
		rc = nn_fail("bridge", argv[0], ENOMEM, NULL);
	if (u) {
		rc = br_steps(u, &b);
		sig = undo_end(u, rc == 0);
	}
	if (rc == 0 && sig == 0 && !o->quiet)
		br_summary(&b);
	for (int i = 0; i < b.n; i++)
		wire_close(&b.m[i]);
	wire_close(&b.hub);
	free(b.m);
	return sig ? sig : rc;
}

struct br_del_ctx {
	int *idx; /* veths and the bridge in the hub, in dump order */
	size_t n;
	bool has_bridge;
};

static int
br_del_cb(const struct nl_link *link, void *data)
{
	struct br_del_ctx *c = data;
	int *v;

	if (!strcmp(link->name, BR_DEV) && !strcmp(link->kind, "bridge"))
		c->has_bridge = true;
	if (strcmp(link->kind, "veth") && strcmp(link->kind, "bridge"))
		return 0;
	v = realloc(c->idx, (c->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	c->idx = v;
	c->idx[c->n++] = link->index;
	return 0;
}

/* Delete the hub's links first: deleting a veth end removes its peer in
 * the member namespace now, instead of at the kernel's async cleanup. */
static int
br_del_links(struct nn_handle *h, const char *name)
{
	struct br_del_ctx c = {0};
	int err = nl_link_dump(h->nl, br_del_cb, &c);

	if (err == 0 && !c.has_bridge) {
		cm_error("bridge del", name, "not an nsnet bridge hub (no %s bridge inside)", BR_DEV);
		free(c.idx);
		return CM_EX_NOTFOUND;
	}
	for (size_t i = 0; i < c.n && err == 0; i++) {
		err = nl_link_del(h->nl, c.idx[i]);
		if (err == -ENODEV)
			err = 0; /* a peer that went with an earlier one */
	}
	free(c.idx);
	return err < 0 ? nn_fail("bridge del", name, -err, h->nl) : 0;
}

int
cmd_bridge_del(int argc, char **argv, const struct nn_opts *o)
{
	const char *why = nn_check_ns_lookup(argv[0]);
	struct nn_handle h = {0};
	int rc, err;

	(void)argc;
	if (why) {
		cm_error("bridge del", argv[0], "invalid bridge name: %s", why);
		return CM_EX_USAGE;
	}
	if ((rc = nn_need_caps(o, "bridge del", argv[0])))
		return rc;
	err = ns_handle_open(&h, argv[0]);
	if (err < 0)
		return nn_ns_fail("bridge del", argv[0], -err);
	rc = br_del_links(&h, argv[0]);
	ns_handle_close(&h);
	if (rc)
		return rc;
	err = ns_delete(argv[0]);
	return err < 0 ? nn_ns_fail("bridge del", argv[0], -err) : 0;
}
