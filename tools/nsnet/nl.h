/*
 * nl.h - the rtnetlink module of nsnet, built on libmnl.
 *
 * A struct nl_sock is bound to the network namespace it was opened in, so
 * nsnet keeps one per namespace it touches.  Every request carries NLM_F_ACK
 * and the socket asks for extended acks: on failure a function returns
 * -errno and nl_sock.ext holds the kernel's message ("" when it gave none).
 */
#ifndef NSNET_NL_H
#define NSNET_NL_H

#include <stdbool.h>
#include <net/if.h>

struct mnl_socket;
struct nlmsghdr;
struct nn_addr;

#define NL_EXT_MAX 256

struct nl_sock {
	struct mnl_socket *sk;
	unsigned int portid;
	unsigned int seq;
	char *buf; /* receive buffer, NL_BUF_SIZE bytes, owned */
	char ext[NL_EXT_MAX]; /* extack text of the last failed request */
};

/* What a link dump or lookup reports about one interface. */
struct nl_link {
	int index;
	char name[IF_NAMESIZE];
	char kind[32]; /* IFLA_INFO_KIND, "" for devices without one */
	unsigned int flags; /* IFF_* */
	unsigned char operstate; /* IF_OPER_* */
	int master; /* ifindex of the master device, 0 if none */
	unsigned int mtu;
};

/* One end of a veth pair: its name and the netns fd it is created in. */
struct nl_veth_end {
	const char *name;
	int nsfd;
};

typedef int (*nl_link_fn)(const struct nl_link *link, void *data);
typedef int (*nl_addr_fn)(int index, const struct nn_addr *addr, void *data);

/* Open a socket in the current netns, or in netns nsfd (the thread's netns
 * is switched for the socket() call only and always restored). */
int nl_open(struct nl_sock *nl);
int nl_open_in(struct nl_sock *nl, int nsfd);
void nl_close(struct nl_sock *nl);

/* Send one request built in nl->buf and wait for its ack; fn (may be NULL)
 * sees every data message. */
int nl_talk(struct nl_sock *nl, struct nlmsghdr *nlh,
	    int (*fn)(const struct nlmsghdr *nlh, void *data), void *data);

/* Links. */
int nl_link_get(struct nl_sock *nl, const char *name, struct nl_link *out);
int nl_link_dump(struct nl_sock *nl, nl_link_fn fn, void *data);
int nl_link_set_up(struct nl_sock *nl, int index);
int nl_link_set_master(struct nl_sock *nl, int index, int master);
int nl_link_del(struct nl_sock *nl, int index);
/* Create both ends of a veth pair in their namespaces in one request. */
int nl_veth_add(struct nl_sock *nl, const struct nl_veth_end *a, const struct nl_veth_end *b,
		unsigned int mtu);
int nl_bridge_add(struct nl_sock *nl, const char *name);
/* Poll until the link's operstate is UP (carrier and qdisc active) or
 * timeout_ms passes (-ETIMEDOUT). */
int nl_link_wait_up(struct nl_sock *nl, int index, int timeout_ms);

/* Addresses and routes. */
int nl_addr_add(struct nl_sock *nl, int index, const struct nn_addr *addr);
int nl_addr_dump(struct nl_sock *nl, nl_addr_fn fn, void *data);
/* dst->plen 0 with an all-zero address is the default route; gw and oif
 * are optional (NULL, 0). */
int nl_route_add(struct nl_sock *nl, const struct nn_addr *dst, const struct nn_addr *gw, int oif);

/* The nsid this socket's netns has for the netns nsfd: >= 0, or -1 when
 * none is assigned; -errno on failure. */
int nl_nsid_get(struct nl_sock *nl, int nsfd);

#endif
