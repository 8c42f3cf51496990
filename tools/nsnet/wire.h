/*
 * wire.h - building blocks shared by connect, link add and bridge: open or
 * create the namespace of an endpoint, create a veth pair with its ends
 * already in place, configure an end.  All of them log what they create in
 * the undo log and print their own error; they return 0, an exit code, or
 * WIRE_INTR when a signal asks for a rollback.
 */
#ifndef NSNET_WIRE_H
#define NSNET_WIRE_H

#include "nsnet.h"

#define WIRE_INTR (-1)

struct wire_end {
	struct nn_ep ep;
	struct nn_handle h; /* open after wire_open() */
	bool created;	    /* this command created the namespace */
	int index;	    /* ifindex once the link exists */
};

/* Open ep's netns when it exists; with create, remember it is missing
 * (wire_create() makes it later); without, a missing one is an error. */
int wire_open(struct wire_end *e, bool create, const char *verb);
/* Fail with "exists" when the interface name is taken in an open netns. */
int wire_check_free(struct wire_end *e, const char *verb);
/* Create the netns of an end that wire_open() found missing. */
int wire_create(struct undo_log *u, struct wire_end *e, const char *verb);
/* One RTM_NEWLINK: a in a's netns, b in b's. */
int wire_veth(struct undo_log *u, struct wire_end *a, struct nn_ep *b, int bfd,
	      unsigned int mtu, const char *verb);
/* Addresses, link up and lo up for an end whose link exists. */
int wire_setup(struct undo_log *u, struct wire_end *e, const char *verb);
/* Wait (bounded) until the end's link is operationally up, so traffic
 * flows as soon as the command returns. */
void wire_wait(struct wire_end *e);
void wire_close(struct wire_end *e);
/* "ns:if=addr,addr" for messages and summaries. */
void wire_describe(const struct nn_ep *ep, char *buf, size_t size);

#endif
