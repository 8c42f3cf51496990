/*
 * wire.c - shared steps of the wiring commands (see wire.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nl.h"
#include "wire.h"

/* How long a command waits for a new veth to become operational. */
#define WIRE_UP_TIMEOUT_MS 3000

static const char *
wire_ns_label(const struct nn_ep *ep)
{
	return strcmp(ep->ns, NN_HOST) ? ep->ns : "(current netns)";
}

void
wire_describe(const struct nn_ep *ep, char *buf, size_t size)
{
	char a[64];
	size_t off = (size_t)snprintf(buf, size, "%s:%s", ep->ns, ep->ifname);

	for (int i = 0; i < ep->naddrs && off < size; i++) {
		nn_format_addr(&ep->addrs[i], true, a, sizeof(a));
		off += (size_t)snprintf(buf + off, size - off, "%c%s", i ? ',' : '=', a);
	}
}

int
wire_open(struct wire_end *e, bool create, const char *verb)
{
	int err = ns_handle_open(&e->h, e->ep.ns);

	if (err == -ENOENT && create)
		return 0;
	if (err < 0)
		return nn_ns_fail(verb, e->ep.ns, -err);
	return 0;
}

int
wire_check_free(struct wire_end *e, const char *verb)
{
	struct nl_link link;
	char obj[NAME_MAX + IF_NAMESIZE + 2];
	int err;

	if (!e->h.nl)
		return 0;
	snprintf(obj, sizeof(obj), "%s:%s", e->ep.ns, e->ep.ifname);
	err = nl_link_get(e->h.nl, e->ep.ifname, &link);
	if (err == 0) {
		cm_error(verb, obj, "interface %s already exists in %s", e->ep.ifname,
			 wire_ns_label(&e->ep));
		return CM_EX_EXISTS;
	}
	return err == -ENODEV ? 0 : nn_fail(verb, obj, -err, e->h.nl);
}

int
wire_create(struct undo_log *u, struct wire_end *e, const char *verb)
{
	int err;

	if (e->h.nl)
		return 0;
	if (undo_check(u) < 0)
		return WIRE_INTR;
	err = ns_create(e->ep.ns, true);
	/* Both ends may name the same new namespace: the first creates it. */
	if (err == 0 && undo_add_netns(u, e->ep.ns) < 0)
		err = -ENOMEM;
	if (err == 0 || err == -EEXIST)
		err = ns_handle_open(&e->h, e->ep.ns);
	if (err < 0)
		return nn_ns_fail(verb, e->ep.ns, -err);
	e->created = true;
	return 0;
}

int
wire_veth(struct undo_log *u, struct wire_end *a, struct nn_ep *b, int bfd, unsigned int mtu,
	  const char *verb)
{
	struct nl_veth_end va = {a->ep.ifname, a->h.fd}, vb = {b->ifname, bfd};
	char obj[NAME_MAX + IF_NAMESIZE + 2];
	int err;

	if (undo_check(u) < 0)
		return WIRE_INTR;
	snprintf(obj, sizeof(obj), "%s:%s", a->ep.ns, a->ep.ifname);
	err = nl_veth_add(a->h.nl, &va, &vb, mtu);
	if (err == -EEXIST) {
		cm_error(verb, obj, "interface %s or %s already exists", a->ep.ifname, b->ifname);
		return CM_EX_EXISTS;
	}
	if (err < 0)
		return nn_fail(verb, obj, -err, a->h.nl);
	return undo_add_link(u, a->ep.ns, a->ep.ifname) < 0 ? nn_fail(verb, obj, ENOMEM, NULL) : 0;
}

static int
wire_addrs(struct undo_log *u, struct wire_end *e, const char *verb)
{
	char obj[NAME_MAX + IF_NAMESIZE + 80], a[64];

	for (int i = 0; i < e->ep.naddrs; i++) {
		int err;

		if (undo_check(u) < 0)
			return WIRE_INTR;
		err = nl_addr_add(e->h.nl, e->index, &e->ep.addrs[i]);
		if (err == 0)
			continue;
		nn_format_addr(&e->ep.addrs[i], true, a, sizeof(a));
		snprintf(obj, sizeof(obj), "%s:%s=%s", e->ep.ns, e->ep.ifname, a);
		if (err == -EEXIST) {
			cm_error(verb, obj, "address already assigned");
			return CM_EX_EXISTS;
		}
		return nn_fail(verb, obj, -err, e->h.nl);
	}
	return 0;
}

static int
wire_up(struct nl_sock *nl, const char *ifname, int *index)
{
	struct nl_link link;
	int err = nl_link_get(nl, ifname, &link);

	if (err < 0)
		return err;
	if (index)
		*index = link.index;
	return nl_link_set_up(nl, link.index);
}

int
wire_setup(struct undo_log *u, struct wire_end *e, const char *verb)
{
	char obj[NAME_MAX + IF_NAMESIZE + 2];
	struct nl_link link;
	int err, rc;

	snprintf(obj, sizeof(obj), "%s:%s", e->ep.ns, e->ep.ifname);
	err = nl_link_get(e->h.nl, e->ep.ifname, &link);
	if (err < 0)
		return nn_fail(verb, obj, -err, e->h.nl);
	e->index = link.index;
	rc = wire_addrs(u, e, verb);
	if (rc)
		return rc;
	if (undo_check(u) < 0)
		return WIRE_INTR;
	err = nl_link_set_up(e->h.nl, e->index);
	if (err == 0 && strcmp(e->ep.ns, NN_HOST))
		err = wire_up(e->h.nl, "lo", NULL);
	return err < 0 ? nn_fail(verb, obj, -err, e->h.nl) : 0;
}

void
wire_wait(struct wire_end *e)
{
	/* A timeout is not fatal: the wiring is done, only the kernel's link
	 * watch is slow; traffic starts a moment later. */
	if (e->h.nl && e->index > 0)
		nl_link_wait_up(e->h.nl, e->index, WIRE_UP_TIMEOUT_MS);
}

void
wire_close(struct wire_end *e)
{
	ns_handle_close(&e->h);
}
