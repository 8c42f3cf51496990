/*
 * undo.c - the undo log that makes multi-step commands all-or-nothing.
 *
 * Terminating signals are blocked while a log is open, so they cannot kill
 * us between two steps; undo_check() notices a pending one and the command
 * rolls back in reverse order.  Links are deleted explicitly before their
 * namespaces: a veth whose far end lives in a surviving namespace would
 * otherwise linger there until the kernel's asynchronous netns cleanup.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nsnet.h"
#include "nl.h"

enum undo_kind { UNDO_NETNS, UNDO_LINK };

struct undo_entry {
	enum undo_kind kind;
	char ns[NAME_MAX + 1];
	char ifname[IF_NAMESIZE];
};

struct undo_log {
	struct undo_entry *v;
	size_t n, cap;
	sigset_t blocked, saved;
	int signo; /* the signal that interrupted us, 0 if none */
	const char *verb, *obj; /* borrowed, for the interruption message */
};

struct undo_log *
undo_begin(const char *verb, const char *obj)
{
	struct undo_log *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->verb = verb;
	u->obj = obj;
	sigemptyset(&u->blocked);
	sigaddset(&u->blocked, SIGINT);
	sigaddset(&u->blocked, SIGTERM);
	sigaddset(&u->blocked, SIGHUP);
	sigprocmask(SIG_BLOCK, &u->blocked, &u->saved);
	return u;
}

static int
undo_push(struct undo_log *u, enum undo_kind kind, const char *ns, const char *ifname)
{
	struct undo_entry *e;

	if (u->n == u->cap) {
		size_t ncap = u->cap ? u->cap * 2 : 8;
		struct undo_entry *nv = realloc(u->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		u->v = nv;
		u->cap = ncap;
	}
	e = &u->v[u->n++];
	e->kind = kind;
	snprintf(e->ns, sizeof(e->ns), "%s", ns);
	snprintf(e->ifname, sizeof(e->ifname), "%s", ifname ? ifname : "");
	return 0;
}

int
undo_add_netns(struct undo_log *u, const char *ns)
{
	return undo_push(u, UNDO_NETNS, ns, NULL);
}

int
undo_add_link(struct undo_log *u, const char *ns, const char *ifname)
{
	return undo_push(u, UNDO_LINK, ns, ifname);
}

/* Test hook: NSNET_TEST_STEP_DELAY_MS=N waits N ms before each step (a
 * pending signal ends the wait), so tests can interrupt a command midway. */
static void
undo_test_delay(struct undo_log *u)
{
	const char *env = getenv("NSNET_TEST_STEP_DELAY_MS");
	unsigned long ms;
	struct timespec ts;
	int sig;

	if (!env || cm_parse_uint(env, 60000, &ms) < 0 || ms == 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	sig = sigtimedwait(&u->blocked, NULL, &ts);
	if (sig > 0)
		u->signo = sig;
}

int
undo_check(struct undo_log *u)
{
	sigset_t pending;

	if (u->signo == 0)
		undo_test_delay(u);
	if (u->signo == 0 && sigpending(&pending) == 0) {
		for (int sig = 1; sig < NSIG; sig++) {
			if (sigismember(&u->blocked, sig) && sigismember(&pending, sig)) {
				u->signo = sig;
				break;
			}
		}
	}
	return u->signo ? -EINTR : 0;
}

static void
undo_link(const struct undo_entry *e)
{
	struct nn_handle h;
	struct nl_link link;

	if (ns_handle_open(&h, e->ns) < 0)
		return;
	if (nl_link_get(h.nl, e->ifname, &link) == 0)
		nl_link_del(h.nl, link.index);
	ns_handle_close(&h);
}

static void
undo_rollback(struct undo_log *u)
{
	for (size_t i = u->n; i-- > 0;) {
		if (u->v[i].kind == UNDO_LINK)
			undo_link(&u->v[i]);
		else
			ns_delete(u->v[i].ns);
	}
}

/* Consume pending signals so restoring the mask does not kill us after a
 * complete rollback; the exit code reports the signal instead. */
static void
undo_drain(struct undo_log *u)
{
	const struct timespec zero = {0, 0};

	while (sigtimedwait(&u->blocked, NULL, &zero) > 0)
		;
}

int
undo_end(struct undo_log *u, bool ok)
{
	int ret;

	if (!ok || undo_check(u) < 0)
		undo_rollback(u);
	ret = u->signo ? 128 + u->signo : 0;
	if (u->signo)
		cm_error(u->verb, u->obj, "interrupted by SIG%s, rolled back", sigabbrev_np(u->signo));
	undo_drain(u);
	sigprocmask(SIG_SETMASK, &u->saved, NULL);
	free(u->v);
	free(u);
	return ret;
}
