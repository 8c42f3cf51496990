/*
 * ping.c - `nsnet ping NS DEST`: ICMP echo from inside a namespace.
 *
 * A raw socket is opened inside NS (setns, socket, setns back); datagram
 * ICMP sockets are no option because a fresh netns has ping_group_range
 * "1 0", which refuses them even to root.  A raw socket sees every echo
 * reply in the netns, so ours are told apart by id, sequence, source and a
 * random cookie in the payload.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "nsnet.h"

/* Raw ICMP socket option from <linux/icmp.h>, which clashes with glibc's
 * <netinet/ip_icmp.h>: a bitmask of ICMP types to drop. */
#define PG_ICMP_FILTER 1

#define PG_DATA 56 /* payload bytes, as ping's default */
#define PG_ERR 2   /* ping(8)'s exit status for errors */

struct pg_payload {
	struct timespec sent;
	uint64_t cookie;
};

struct pg {
	const char *ns, *dest;
	struct nn_addr dst;
	int fd;
	uint16_t id;
	uint64_t cookie;
	unsigned long sent, recv;
	double min, max, sum;
	struct timespec start;
	const struct nn_opts *o;
	uint8_t seen[65536 / 8]; /* bitmap of answered sequence numbers */
};

static volatile sig_atomic_t pg_stop;

static void
pg_on_signal(int sig)
{
	(void)sig;
	pg_stop = 1;
}

static double
pg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
pg_filter(int fd, int family)
{
	if (family == AF_INET) {
		uint32_t mask = ~(1U << ICMP_ECHOREPLY);

		return setsockopt(fd, SOL_RAW, PG_ICMP_FILTER, &mask, sizeof(mask));
	} else {
		struct icmp6_filter f;
		int one = 1;

		ICMP6_FILTER_SETBLOCKALL(&f);
		ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one)) < 0)
			return -1;
		return setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f));
	}
}

/* Raw ICMP socket created inside the namespace, with a reply filter. */
static int
pg_open(struct pg *p)
{
	int family = p->dst.family;
	int nsfd = ns_open(p->ns), err;

	if (nsfd < 0)
		return nsfd;
	err = ns_enter(nsfd);
	close(nsfd);
	if (err < 0)
		return err;
	p->fd = socket(family, SOCK_RAW | SOCK_CLOEXEC,
		       family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	err = p->fd < 0 ? -errno : 0;
	if (ns_leave() < 0)
		abort();
	if (err == 0 && pg_filter(p->fd, family) < 0) {
		err = -errno;
		close(p->fd);
	}
	return err;
}

static uint16_t
pg_csum(const void *buf, size_t len)
{
	const uint8_t *b = buf;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)(b[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static socklen_t
pg_sockaddr(const struct nn_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a->bytes, 4);
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a->bytes, 16);
		return sizeof(*sin6);
	}
}

/* Build and send echo request number seq; -errno on failure. */
static int
pg_send(struct pg *p, uint16_t seq)
{
	uint8_t pkt[8 + PG_DATA] = {0};
	uint16_t id = htons(p->id), nseq = htons(seq), sum;
	struct pg_payload pl;
	struct sockaddr_storage ss;
	socklen_t sl = pg_sockaddr(&p->dst, &ss);

	pkt[0] = p->dst.family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
	memcpy(pkt + 4, &id, 2);
	memcpy(pkt + 6, &nseq, 2);
	memset(&pl, 0, sizeof(pl));
	clock_gettime(CLOCK_MONOTONIC, &pl.sent);
	pl.cookie = p->cookie;
	memcpy(pkt + 8, &pl, sizeof(pl));
	for (size_t i = 8 + sizeof(pl); i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)i;
	/* The kernel fills in the ICMPv6 checksum (it needs the IPv6 header). */
	if (p->dst.family == AF_INET) {
		sum = pg_csum(pkt, sizeof(pkt));
		memcpy(pkt + 2, &sum, 2);
	}
	if (sendto(p->fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&ss, sl) < 0)
		return -errno;
	return 0;
}

struct pg_reply {
	uint16_t seq;
	int ttl;
	size_t bytes;
	double rtt_ms;
};

static bool
pg_from_dst(const struct pg *p, const struct sockaddr_storage *from)
{
	if (p->dst.family == AF_INET)
		return !memcmp(&((const struct sockaddr_in *)from)->sin_addr, p->dst.bytes, 4);
	return !memcmp(&((const struct sockaddr_in6 *)from)->sin6_addr, p->dst.bytes, 16);
}

/* Is this datagram an echo reply to us?  Fills r when it is. */
static bool
pg_match(const struct pg *p, const uint8_t *buf, size_t n, const struct sockaddr_storage *from,
	 struct pg_reply *r)
{
	size_t off = 0;
	uint16_t id, seq;
	struct pg_payload pl;
	struct timespec now;

	if (p->dst.family == AF_INET) {
		if (n < 20)
			return false;
		off = (size_t)(buf[0] & 0x0f) * 4;
		r->ttl = buf[8];
	}
	if (n < off + 8 + sizeof(pl) || !pg_from_dst(p, from) ||
	    buf[off] != (p->dst.family == AF_INET ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY))
		return false;
	memcpy(&id, buf + off + 4, 2);
	memcpy(&seq, buf + off + 6, 2);
	memcpy(&pl, buf + off + 8, sizeof(pl));
	if (ntohs(id) != p->id || pl.cookie != p->cookie)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	r->seq = ntohs(seq);
	r->bytes = n - off;
	r->rtt_ms = (double)(now.tv_sec - pl.sent.tv_sec) * 1e3 +
		    (double)(now.tv_nsec - pl.sent.tv_nsec) / 1e6;
	return true;
}

/* IPv6 raw sockets give no header: the hop limit comes as a cmsg. */
static int
pg_hoplimit(struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
			int h;

			memcpy(&h, CMSG_DATA(c), sizeof(h));
			return h;
		}
	}
	return -1;
}

static void
pg_print_reply(const struct pg *p, const struct pg_reply *r, bool dup)
{
	char a[64];

	if (p->o->json || p->o->quiet)
		return;
	nn_format_addr(&p->dst, false, a, sizeof(a));
	printf("%zu bytes from %s: icmp_seq=%u", r->bytes, a, r->seq);
	if (r->ttl >= 0)
		printf(" %s=%d", p->dst.family == AF_INET ? "ttl" : "hlim", r->ttl);
	printf(" time=%.3f ms%s\n", r->rtt_ms, dup ? " (DUP!)" : "");
	fflush(stdout);
}

static void
pg_recv(struct pg *p)
{
	uint8_t buf[1500], cbuf[256];
	struct sockaddr_storage from;
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr msg = {&from, sizeof(from), &iov, 1, cbuf, sizeof(cbuf), 0};
	struct pg_reply r = {.ttl = -1};
	ssize_t n = recvmsg(p->fd, &msg, MSG_DONTWAIT);
	bool dup;

	if (n <= 0 || !pg_match(p, buf, (size_t)n, &from, &r))
		return;
	if (p->dst.family == AF_INET6)
		r.ttl = pg_hoplimit(&msg);
	dup = p->seen[r.seq / 8] & (1 << (r.seq % 8));
	p->seen[r.seq / 8] |= (uint8_t)(1 << (r.seq % 8));
	if (!dup) {
		p->recv++;
		p->sum += r.rtt_ms;
		p->min = p->recv == 1 || r.rtt_ms < p->min ? r.rtt_ms : p->min;
		p->max = r.rtt_ms > p->max ? r.rtt_ms : p->max;
	}
	pg_print_reply(p, &r, dup);
}

static void
pg_send_next(struct pg *p)
{
	int err = pg_send(p, (uint16_t)(p->sent + 1));

	p->sent++;
	/* Like ping: a failed send (no route, ...) is reported, not fatal. */
	if (err < 0 && !p->o->json)
		cm_error("ping", p->dest, "icmp_seq=%lu: %s", p->sent, strerror(-err));
}

/* Send every interval until count is reached, then wait up to -W seconds
 * for the outstanding replies; a signal ends it early. */
static void
pg_loop(struct pg *p)
{
	const struct nn_opts *o = p->o;
	double next = pg_now(), deadline = INFINITY;

	while (!pg_stop) {
		bool done_sending = o->count && p->sent >= o->count;
		double now = pg_now(), until;
		struct pollfd pfd = {p->fd, POLLIN, 0};

		if (done_sending && (p->recv >= p->sent || now >= deadline))
			break;
		if (!done_sending && now >= next) {
			pg_send_next(p);
			next += o->interval_s;
			if (o->count && p->sent >= o->count)
				deadline = now + o->wait_s;
			continue;
		}
		until = done_sending ? deadline : next;
		if (poll(&pfd, 1, (int)((until - now) * 1000.0) + 1) > 0)
			pg_recv(p);
	}
}

static double
pg_loss(const struct pg *p)
{
	return p->sent ? (double)(p->sent - p->recv) * 100.0 / (double)p->sent : 0.0;
}

static void
pg_report_json(const struct pg *p)
{
	struct cm_json j;

	cm_json_init(&j, stdout);
	cm_json_obj_begin(&j);
	cm_json_key(&j, "netns");
	cm_json_str(&j, p->ns);
	cm_json_key(&j, "destination");
	cm_json_str(&j, p->dest);
	cm_json_key(&j, "transmitted");
	cm_json_uint(&j, p->sent);
	cm_json_key(&j, "received");
	cm_json_uint(&j, p->recv);
	cm_json_key(&j, "loss_pct");
	cm_json_double(&j, pg_loss(p));
	cm_json_key(&j, "rtt_ms");
	if (p->recv) {
		cm_json_obj_begin(&j);
		cm_json_key(&j, "min");
		cm_json_double(&j, p->min);
		cm_json_key(&j, "avg");
		cm_json_double(&j, p->sum / (double)p->recv);
		cm_json_key(&j, "max");
		cm_json_double(&j, p->max);
		cm_json_obj_end(&j);
	} else {
		cm_json_null(&j);
	}
	cm_json_obj_end(&j);
	cm_json_end(&j);
}

static void
pg_report(const struct pg *p, double elapsed)
{
	if (p->o->json) {
		pg_report_json(p);
		return;
	}
	printf("\n--- %s ping statistics (netns %s) ---\n", p->dest, p->ns);
	printf("%lu packets transmitted, %lu received, %g%% packet loss, time %.0fms\n", p->sent,
	       p->recv, pg_loss(p), elapsed * 1000.0);
	if (p->recv)
		printf("rtt min/avg/max = %.3f/%.3f/%.3f ms\n", p->min, p->sum / (double)p->recv,
		       p->max);
}

static int
pg_parse(int argc, char **argv, struct pg *p)
{
	const char *why = nn_check_ns_lookup(argv[0]);

	(void)argc;
	if (why) {
		cm_error("ping", argv[0], "invalid netns name: %s", why);
		return CM_EX_USAGE;
	}
	if (nn_parse_ip(argv[1], &p->dst) < 0) {
		cm_error("ping", argv[1], "invalid address (expected an IPv4 or IPv6 address)");
		return CM_EX_USAGE;
	}
	p->ns = argv[0];
	p->dest = argv[1];
	return 0;
}

static void
pg_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pg_on_signal; /* no SA_RESTART: poll must wake up */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int
cmd_ping(int argc, char **argv, const struct nn_opts *o)
{
	struct pg p = {.o = o, .fd = -1, .id = (uint16_t)getpid()};
	int rc, err;

	if ((rc = pg_parse(argc, argv, &p)) || (rc = nn_need_caps(o, "ping", argv[0])))
		return rc;
	if (getrandom(&p.cookie, sizeof(p.cookie), 0) != sizeof(p.cookie))
		p.cookie = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	err = pg_open(&p);
	if (err < 0) {
		if (err == -ENOENT || err == -ESTALE)
			nn_ns_fail("ping", argv[0], -err);
		else
			nn_fail("ping", argv[0], -err, NULL);
		return PG_ERR;
	}
	if (!o->json && !o->quiet)
		printf("PING %s from netns %s: %d data bytes\n", p.dest, p.ns, PG_DATA);
	pg_signals();
	clock_gettime(CLOCK_MONOTONIC, &p.start);
	pg_loop(&p);
	pg_report(&p, pg_now() - ((double)p.start.tv_sec + (double)p.start.tv_nsec / 1e9));
	close(p.fd);
	return p.recv ? 0 : 1;
}
