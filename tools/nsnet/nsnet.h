/*
 * nsnet.h - the map of nsnet: shared types and prototypes grouped by the
 * file that defines them.  Library-style functions return 0 or -errno and
 * never print; the cmd_*() functions print and return an exit code.
 */
#ifndef NSNET_H
#define NSNET_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include <net/if.h>

#include "common.h"

#define NN_RUN_DIR "/run/netns"
#define NN_ETC_DIR "/etc/netns"
/* "." as a namespace in an endpoint means the netns nsnet runs in. */
#define NN_HOST "."

struct nl_sock;

/* An IPv4 or IPv6 address with prefix length (plen is 32/128 for a host). */
struct nn_addr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char plen;
	unsigned char bytes[16];
};

#define NN_MAX_ADDRS 8

/* One side of a wire: NS:IF[=CIDR[,CIDR...]]. */
struct nn_ep {
	char ns[NAME_MAX + 1];
	char ifname[IF_NAMESIZE];
	struct nn_addr addrs[NN_MAX_ADDRS];
	int naddrs;
};

/* Command-line options; which ones a command accepts is in its cmds[] row. */
struct nn_opts {
	bool json, quiet;
	bool no_lo, exist_ok, missing_ok, all, strict;
	unsigned int mtu;
	unsigned long count; /* ping -c, 0 = until interrupted */
	double wait_s, interval_s;
	unsigned long long caps; /* capabilities the command needs (table) */
};

/* A namespace opened for work: its fd and a netlink socket inside it. */
struct nn_handle {
	char name[NAME_MAX + 1];
	int fd;
	struct nl_sock *nl;
};

/* cmd_*() signature: args[0] is the first word after the command. */
typedef int (*nn_cmd_fn)(int argc, char **argv, const struct nn_opts *o);

/* nsnet.c */
/* Print "nsnet: VERB OBJ: strerror(err) (kernel text)" and return the exit
 * code for err (a positive errno value). */
int nn_fail(const char *verb, const char *obj, int err, const struct nl_sock *nl);
/* Return 4 after a message unless we hold the capabilities o->caps lists
 * (called by commands after their input is validated), else 0. */
int nn_need_caps(const struct nn_opts *o, const char *verb, const char *obj);

/* addr.c: parsing and printing of addresses and endpoints */
int nn_parse_cidr(const char *s, struct nn_addr *out);
int nn_parse_ip(const char *s, struct nn_addr *out);
/* Format as "A/LEN" (with_plen) or "A" into buf (at least 64 bytes). */
void nn_format_addr(const struct nn_addr *a, bool with_plen, char *buf, size_t size);
/* Parse NS:IF (allow_addrs false) or NS:IF[=CIDR,...]; on -EINVAL *why
 * says what is wrong. */
int nn_parse_ep(const char *s, bool allow_addrs, struct nn_ep *ep, const char **why);
/* Validate a netns name for creation (NN_HOST allowed when allow_host);
 * NULL when valid, else the reason. */
const char *nn_check_ns(const char *name, bool allow_host);
/* ip's looser rules for names that only need to exist: 1-255 bytes, no
 * '/', not "." or "..". */
const char *nn_check_ns_lookup(const char *name);

/* netns.c: named namespaces under /run/netns, ip-netns compatible */
/* fd of the netns this thread started in (opened once, O_CLOEXEC). */
int ns_home_fd(void);
/* Switch this thread to nsfd / back to the home netns. */
int ns_enter(int nsfd);
int ns_leave(void);
/* Open /run/netns/NAME (NN_HOST = home); -ENOENT missing, -ESTALE not a
 * mounted namespace.  Caller closes. */
int ns_open(const char *name);
/* Create NAME as `ip netns add` does; lo_up brings loopback up. */
int ns_create(const char *name, bool lo_up);
/* Name the netns of pid as NAME, as `ip netns attach` does. */
int ns_attach(const char *name, pid_t pid);
/* Remove the name (detach mount + unlink, EBUSY retried). */
int ns_delete(const char *name);
/* Sorted names in /run/netns; caller frees with ns_names_free(). */
int ns_names(char ***names, size_t *count);
void ns_names_free(char **names, size_t count);
/* Is the entry a live nsfs mount? Fills dev/ino when it is. */
int ns_stat(const char *name, dev_t *dev, ino_t *ino);
/* Open a namespace and a netlink socket in it; ns_handle_close frees. */
int ns_handle_open(struct nn_handle *h, const char *name);
void ns_handle_close(struct nn_handle *h);

/* proc.c: processes and their namespaces */
/* PIDs (thread-group leaders) whose net ns is dev/ino; caller frees. */
int proc_net_pids(dev_t dev, ino_t ino, pid_t **pids, size_t *count);
/* dev/ino of /proc/PID/ns/TYPE (-ESRCH for a missing process). */
int proc_ns_stat(pid_t pid, const char *type, dev_t *dev, ino_t *ino);

/* undo.c: all-or-nothing for multi-step commands */
struct undo_log;
/* Start a log and block SIGINT/SIGTERM/SIGHUP until undo_end(); verb and
 * obj (borrowed) name the command in the message printed on a signal.
 * NULL when out of memory. */
struct undo_log *undo_begin(const char *verb, const char *obj);
int undo_add_netns(struct undo_log *u, const char *ns);
int undo_add_link(struct undo_log *u, const char *ns, const char *ifname);
/* -EINTR when a terminating signal is pending: the caller rolls back.
 * Also the place where the NSNET_TEST_STEP_DELAY_MS test hook sleeps. */
int undo_check(struct undo_log *u);
/* Roll back (ok false) or keep (ok true) the work, free the log and
 * restore the signal mask; returns 128+signal when a signal interrupted
 * the command, else 0. */
int undo_end(struct undo_log *u, bool ok);

/* nscmd.c */
/* Report a namespace-level error with a precise reason (missing, stale,
 * exists, no such process); returns the exit code. */
int nn_ns_fail(const char *verb, const char *name, int err);

/* commands */
int cmd_list(int argc, char **argv, const struct nn_opts *o);
int cmd_add(int argc, char **argv, const struct nn_opts *o);
int cmd_del(int argc, char **argv, const struct nn_opts *o);
int cmd_attach(int argc, char **argv, const struct nn_opts *o);
int cmd_identify(int argc, char **argv, const struct nn_opts *o);
int cmd_pids(int argc, char **argv, const struct nn_opts *o);
int cmd_ns(int argc, char **argv, const struct nn_opts *o);
int cmd_exec(int argc, char **argv, const struct nn_opts *o);
int cmd_link_add(int argc, char **argv, const struct nn_opts *o);
int cmd_link_del(int argc, char **argv, const struct nn_opts *o);
int cmd_addr_add(int argc, char **argv, const struct nn_opts *o);
int cmd_route_add(int argc, char **argv, const struct nn_opts *o);
int cmd_connect(int argc, char **argv, const struct nn_opts *o);
int cmd_disconnect(int argc, char **argv, const struct nn_opts *o);
int cmd_bridge(int argc, char **argv, const struct nn_opts *o);
int cmd_bridge_del(int argc, char **argv, const struct nn_opts *o);
int cmd_ping(int argc, char **argv, const struct nn_opts *o);

#endif
