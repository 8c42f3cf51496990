/*
 * nl.c - rtnetlink requests over libmnl: socket per netns, request/ack loop
 * with extended-ack text, and the link/address/route operations nsnet uses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <net/if.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/veth.h>
#include <linux/net_namespace.h>

#include "nsnet.h"
#include "nl.h"

/* RFC 2863 operstate "up" (IF_OPER_UP lives in <linux/if.h>, which cannot
 * be included together with <net/if.h>). */
#define NL_OPER_UP 6

/* Dumps may come in 32 KiB skbs; a smaller buffer would truncate them. */
#define NL_BUF_SIZE 65536

struct nl_req {
	int (*fn)(const struct nlmsghdr *nlh, void *data);
	void *data;
	struct nl_sock *nl;
};

static int
nl_setup(struct nl_sock *nl)
{
	int one = 1;

	nl->buf = malloc(NL_BUF_SIZE);
	if (!nl->buf)
		return -ENOMEM;
	/* Both options are best effort: old kernels simply give plain acks. */
	mnl_socket_setsockopt(nl->sk, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sk, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	nl->portid = mnl_socket_get_portid(nl->sk);
	nl->seq = (unsigned int)time(NULL);
	nl->ext[0] = '\0';
	return 0;
}

int
nl_open(struct nl_sock *nl)
{
	int err;

	memset(nl, 0, sizeof(*nl));
	nl->sk = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sk)
		return -errno;
	err = nl_setup(nl);
	if (err < 0)
		nl_close(nl);
	return err;
}

int
nl_open_in(struct nl_sock *nl, int nsfd)
{
	int err = ns_enter(nsfd);

	if (err < 0)
		return err;
	err = nl_open(nl);
	/* A failed switch back would leave us in the wrong netns: fatal. */
	if (ns_leave() < 0)
		abort();
	return err;
}

void
nl_close(struct nl_sock *nl)
{
	if (nl->sk)
		mnl_socket_close(nl->sk);
	free(nl->buf);
	nl->sk = NULL;
	nl->buf = NULL;
}

static int
nl_ext_attr(const struct nlattr *attr, void *data)
{
	struct nl_sock *nl = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
		snprintf(nl->ext, sizeof(nl->ext), "%s", mnl_attr_get_str(attr));
		/* The kernel's messages end without a period most of the time. */
		nl->ext[strcspn(nl->ext, "\n")] = '\0';
	}
	return MNL_CB_OK;
}

/* NLMSG_ERROR: an ack (error 0) or a failure with optional extack TLVs. */
static int
nl_cb_error(const struct nlmsghdr *nlh, void *data)
{
	struct nl_req *req = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	unsigned int off = sizeof(*e);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (e->error == 0)
		return MNL_CB_STOP;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && mnl_nlmsg_size(off) < nlh->nlmsg_len)
		mnl_attr_parse(nlh, off, nl_ext_attr, req->nl);
	errno = -e->error;
	return MNL_CB_ERROR;
}

/* NLMSG_DONE ends a dump; its payload is the dump's error, if any. */
static int
nl_cb_done(const struct nlmsghdr *nlh, void *data)
{
	int err = 0;

	(void)data;
	if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(int)))
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	if (err < 0) {
		errno = -err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

static int
nl_cb_data(const struct nlmsghdr *nlh, void *data)
{
	struct nl_req *req = data;
	int err;

	if (!req->fn)
		return MNL_CB_OK;
	err = req->fn(nlh, req->data);
	if (err < 0) {
		errno = -err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int
nl_recv_loop(struct nl_sock *nl, struct nl_req *req, unsigned int seq)
{
	/* With a ctl array, libmnl runs no default for the types it covers. */
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {[NLMSG_ERROR] = nl_cb_error, [NLMSG_DONE] = nl_cb_done};
	int ret;

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sk, nl->buf, NL_BUF_SIZE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		ret = mnl_cb_run2(nl->buf, (size_t)n, seq, nl->portid, nl_cb_data, req, ctl,
				  NLMSG_MIN_TYPE);
		if (ret == MNL_CB_ERROR)
			return -errno;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

int
nl_talk(struct nl_sock *nl, struct nlmsghdr *nlh,
	int (*fn)(const struct nlmsghdr *nlh, void *data), void *data)
{
	struct nl_req req = {.fn = fn, .data = data, .nl = nl};

	nl->ext[0] = '\0';
	nlh->nlmsg_seq = ++nl->seq;
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return nl_recv_loop(nl, &req, nlh->nlmsg_seq);
}

/* ---- links ---- */

static struct nlmsghdr *
nl_link_msg(struct nl_sock *nl, int type, int flags, int index)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = (unsigned short)type;
	nlh->nlmsg_flags = (unsigned short)flags;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	return nlh;
}

static int
nl_linkinfo_attr(const struct nlattr *attr, void *data)
{
	struct nl_link *link = data;

	if (mnl_attr_get_type(attr) == IFLA_INFO_KIND &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		snprintf(link->kind, sizeof(link->kind), "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static int
nl_link_attr(const struct nlattr *attr, void *data)
{
	struct nl_link *link = data;

	switch (mnl_attr_get_type(attr)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			snprintf(link->name, sizeof(link->name), "%s", mnl_attr_get_str(attr));
		break;
	case IFLA_OPERSTATE:
		if (mnl_attr_validate(attr, MNL_TYPE_U8) == 0)
			link->operstate = mnl_attr_get_u8(attr);
		break;
	case IFLA_MASTER:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			link->master = (int)mnl_attr_get_u32(attr);
		break;
	case IFLA_MTU:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			link->mtu = mnl_attr_get_u32(attr);
		break;
	case IFLA_LINKINFO:
		mnl_attr_parse_nested(attr, nl_linkinfo_attr, link);
		break;
	}
	return MNL_CB_OK;
}

static int
nl_link_parse(const struct nlmsghdr *nlh, struct nl_link *link)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	memset(link, 0, sizeof(*link));
	if (nlh->nlmsg_type != RTM_NEWLINK)
		return -EBADMSG;
	link->index = ifi->ifi_index;
	link->flags = ifi->ifi_flags;
	mnl_attr_parse(nlh, sizeof(*ifi), nl_link_attr, link);
	return 0;
}

static int
nl_link_get_cb(const struct nlmsghdr *nlh, void *data)
{
	return nl_link_parse(nlh, data);
}

int
nl_link_get(struct nl_sock *nl, const char *name, struct nl_link *out)
{
	struct nlmsghdr *nlh = nl_link_msg(nl, RTM_GETLINK, 0, 0);
	int err;

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	err = nl_talk(nl, nlh, nl_link_get_cb, out);
	/* Older kernels say ENODEV, newer ones may pass the name check first. */
	return err == -ENOENT ? -ENODEV : err;
}

struct nl_dump_ctx {
	nl_link_fn fn;
	void *data;
};

static int
nl_link_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_dump_ctx *ctx = data;
	struct nl_link link;
	int err = nl_link_parse(nlh, &link);

	return err < 0 ? err : ctx->fn(&link, ctx->data);
}

int
nl_link_dump(struct nl_sock *nl, nl_link_fn fn, void *data)
{
	struct nl_dump_ctx ctx = {.fn = fn, .data = data};
	struct nlmsghdr *nlh = nl_link_msg(nl, RTM_GETLINK, NLM_F_DUMP, 0);

	return nl_talk(nl, nlh, nl_link_dump_cb, &ctx);
}

int
nl_link_set_up(struct nl_sock *nl, int index)
{
	struct nlmsghdr *nlh = nl_link_msg(nl, RTM_NEWLINK, 0, index);
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return nl_talk(nl, nlh, NULL, NULL);
}

int
nl_link_set_master(struct nl_sock *nl, int index, int master)
{
	struct nlmsghdr *nlh = nl_link_msg(nl, RTM_NEWLINK, 0, index);

	mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
	return nl_talk(nl, nlh, NULL, NULL);
}

int
nl_link_del(struct nl_sock *nl, int index)
{
	return nl_talk(nl, nl_link_msg(nl, RTM_DELLINK, 0, index), NULL, NULL);
}

int
nl_veth_add(struct nl_sock *nl, const struct nl_veth_end *a, const struct nl_veth_end *b,
	    unsigned int mtu)
{
	struct nlmsghdr *nlh = nl_link_msg(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
	struct nlattr *info, *idata, *peer;
	struct ifinfomsg *pifi;

	mnl_attr_put_strz(nlh, IFLA_IFNAME, a->name);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)a->nsfd);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	idata = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* The peer nest starts with a bare ifinfomsg, then its attributes. */
	pifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifi));
	memset(pifi, 0, sizeof(*pifi));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, b->name);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)b->nsfd);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, idata);
	mnl_attr_nest_end(nlh, info);
	return nl_talk(nl, nlh, NULL, NULL);
}

int
nl_bridge_add(struct nl_sock *nl, const char *name)
{
	struct nlmsghdr *nlh = nl_link_msg(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
	struct nlattr *info;

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(nlh, info);
	return nl_talk(nl, nlh, NULL, NULL);
}

static int
nl_link_by_index(struct nl_sock *nl, int index, struct nl_link *out)
{
	return nl_talk(nl, nl_link_msg(nl, RTM_GETLINK, 0, index), nl_link_get_cb, out);
}

int
nl_link_wait_up(struct nl_sock *nl, int index, int timeout_ms)
{
	const struct timespec tick = {0, 10 * 1000 * 1000};
	struct nl_link link;

	for (int waited = 0;; waited += 10) {
		int err = nl_link_by_index(nl, index, &link);

		if (err < 0)
			return err;
		if (link.operstate == NL_OPER_UP)
			return 0;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		nanosleep(&tick, NULL);
	}
}

/* ---- addresses and routes ---- */

int
nl_addr_add(struct nl_sock *nl, int index, const struct nn_addr *addr)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	struct ifaddrmsg *ifa;
	size_t len = addr->family == AF_INET ? 4 : 16;

	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (unsigned char)addr->family;
	ifa->ifa_prefixlen = addr->plen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned int)index;
	/* Without NODAD an IPv6 address stays tentative for a while and the
	 * first packets of a fresh test topology are lost. */
	if (addr->family == AF_INET6)
		ifa->ifa_flags = IFA_F_NODAD;
	mnl_attr_put(nlh, IFA_LOCAL, len, addr->bytes);
	mnl_attr_put(nlh, IFA_ADDRESS, len, addr->bytes);
	return nl_talk(nl, nlh, NULL, NULL);
}

struct nl_addr_ctx {
	nl_addr_fn fn;
	void *data;
	struct nn_addr addr;
	bool have_local;
};

static int
nl_addr_attr(const struct nlattr *attr, void *data)
{
	struct nl_addr_ctx *ctx = data;
	int type = mnl_attr_get_type(attr);
	size_t want = ctx->addr.family == AF_INET ? 4 : 16;

	if ((type != IFA_LOCAL && type != IFA_ADDRESS) || mnl_attr_get_payload_len(attr) != want)
		return MNL_CB_OK;
	/* IFA_LOCAL is our address on point-to-point links; prefer it. */
	if (type == IFA_ADDRESS && ctx->have_local)
		return MNL_CB_OK;
	memcpy(ctx->addr.bytes, mnl_attr_get_payload(attr), want);
	ctx->have_local = type == IFA_LOCAL;
	return MNL_CB_OK;
}

static int
nl_addr_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_addr_ctx *ctx = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWADDR ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return 0;
	memset(&ctx->addr, 0, sizeof(ctx->addr));
	ctx->addr.family = ifa->ifa_family;
	ctx->addr.plen = ifa->ifa_prefixlen;
	ctx->have_local = false;
	mnl_attr_parse(nlh, sizeof(*ifa), nl_addr_attr, ctx);
	return ctx->fn((int)ifa->ifa_index, &ctx->addr, ctx->data);
}

int
nl_addr_dump(struct nl_sock *nl, nl_addr_fn fn, void *data)
{
	struct nl_addr_ctx ctx = {.fn = fn, .data = data};
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	return nl_talk(nl, nlh, nl_addr_dump_cb, &ctx);
}

int
nl_route_add(struct nl_sock *nl, const struct nn_addr *dst, const struct nn_addr *gw, int oif)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	struct rtmsg *rtm;
	size_t len = dst->family == AF_INET ? 4 : 16;

	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)dst->family;
	rtm->rtm_dst_len = dst->plen;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_type = RTN_UNICAST;
	/* Like ip: an IPv4 route without a gateway is on-link (scope link). */
	rtm->rtm_scope = (!gw && dst->family == AF_INET) ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
	if (dst->plen)
		mnl_attr_put(nlh, RTA_DST, len, dst->bytes);
	if (gw)
		mnl_attr_put(nlh, RTA_GATEWAY, len, gw->bytes);
	if (oif)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
	return nl_talk(nl, nlh, NULL, NULL);
}

/* ---- nsid ---- */

static int
nl_nsid_attr(const struct nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == NETNSA_NSID && mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		*(int *)data = (int)mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int
nl_nsid_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type == RTM_NEWNSID)
		mnl_attr_parse(nlh, sizeof(struct rtgenmsg), nl_nsid_attr, data);
	return 0;
}

int
nl_nsid_get(struct nl_sock *nl, int nsfd)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	struct rtgenmsg *g;
	int nsid = -1;
	int err;

	nlh->nlmsg_type = RTM_GETNSID;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, (uint32_t)nsfd);
	err = nl_talk(nl, nlh, nl_nsid_cb, &nsid);
	return err < 0 ? err : (nsid < 0 ? -1 : nsid);
}
