/*
 * freezer.c - the freezer state model and the freeze/thaw algorithms.
 *
 * v1: the kernel may report FREEZING for a while (tasks in uninterruptible
 * sleep, or new tasks forking in).  Like runc we re-write FROZEN until the
 * state reads FROZEN; re-writing makes the kernel retry every task, and a
 * short thaw every 50th attempt lets a fork storm drain.
 * v2: write 1 to cgroup.freeze and wait for "frozen 1" in cgroup.events,
 * which kernfs signals with POLLPRI; a bounded poll timeout keeps plain-file
 * fake trees (which never signal) honest.
 * Either way a failed, timed-out or interrupted freeze thaws the group back,
 * so no command leaves anything half-frozen (runc#5325 is the v2 bug where
 * this is forgotten).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgfreeze.h"

volatile sig_atomic_t cg_interrupted;

static void
on_signal(int sig)
{
	cg_interrupted = sig;
}

void
cg_signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: waits must wake up */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

double
cg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
cg_sleep(double seconds)
{
	struct timespec ts = {
	    .tv_sec = (time_t)seconds,
	    .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9),
	};

	nanosleep(&ts, NULL);
}

const char *
cg_fstate_name(enum cg_fstate s)
{
	switch (s) {
	case CG_FROZEN:
		return "FROZEN";
	case CG_FREEZING:
		return "FREEZING";
	default:
		return "THAWED";
	}
}

/* ---- v1 ---- */

/* Read a v1 freezer file: libcgroup on the real mount, else plain I/O. */
static int
v1_read(const struct cg_ctx *ctx, const char *name, int gfd, const char *file, char *buf,
	size_t size)
{
	if (ctx->use_lib)
		return v1_lib_read(name, file, buf, size);
	return cgfs_read_line(gfd, file, buf, size);
}

static int
v1_write_state(const struct cg_ctx *ctx, const char *name, int gfd, const char *state)
{
	if (ctx->use_lib)
		return v1_lib_write_state(name, state);
	return cgfs_write(gfd, "freezer.state", state);
}

static int
v1_parse_state(const char *s, enum cg_fstate *out)
{
	if (!strcmp(s, "THAWED"))
		*out = CG_THAWED;
	else if (!strcmp(s, "FREEZING"))
		*out = CG_FREEZING;
	else if (!strcmp(s, "FROZEN"))
		*out = CG_FROZEN;
	else
		return -EPROTO;
	return 0;
}

static int
v1_read_state(const struct cg_ctx *ctx, const char *name, int gfd, enum cg_fstate *out)
{
	char buf[64];
	int err = v1_read(ctx, name, gfd, "freezer.state", buf, sizeof(buf));

	return err < 0 ? err : v1_parse_state(buf, out);
}

/* A 0/1 flag file; a fake tree may leave it out (reads as 0). */
static int
v1_read_flag(const struct cg_ctx *ctx, const char *name, int gfd, const char *file, bool *out)
{
	char buf[32];
	int err = v1_read(ctx, name, gfd, file, buf, sizeof(buf));

	if (err == -ENOENT && ctx->fake)
		err = 0, buf[0] = '0';
	*out = buf[0] == '1';
	return err;
}

static int
v1_status(const struct cg_ctx *ctx, const char *name, int gfd, struct cg_status *st)
{
	int err = v1_read_state(ctx, name, gfd, &st->state);

	if (err == 0)
		err = v1_read_flag(ctx, name, gfd, "freezer.self_freezing", &st->self);
	if (err == 0)
		err = v1_read_flag(ctx, name, gfd, "freezer.parent_freezing", &st->parent);
	st->tasks = cgfs_count(gfd, "tasks");
	return err;
}

/* The runc loop, bounded by a deadline instead of an attempt count. */
static int
v1_freeze_loop(const struct cg_ctx *ctx, const char *name, int gfd, double deadline)
{
	enum cg_fstate st;
	int err;

	for (unsigned attempt = 0;; attempt++) {
		if (cg_interrupted)
			return -EINTR;
		if ((err = v1_write_state(ctx, name, gfd, "FROZEN")) < 0)
			return err;
		if (attempt % 25 == 24)
			cg_sleep(10e-6);
		if ((err = v1_read_state(ctx, name, gfd, &st)) < 0)
			return err;
		if (st == CG_FROZEN)
			return 0;
		if (cg_now() >= deadline)
			return -ETIMEDOUT;
		if (attempt % 50 == 49) {
			/* let tasks that keep forking settle before retrying */
			if ((err = v1_write_state(ctx, name, gfd, "THAWED")) < 0)
				return err;
			cg_sleep(10e-3);
		} else if (attempt >= 10) {
			cg_sleep(1e-3);
		}
	}
}

/* ---- v2 ---- */

/* Does any ancestor of name (not the root, which has no cgroup.freeze)
 * have cgroup.freeze set? */
static bool
v2_parent_freezing(const struct cg_ctx *ctx, const char *name)
{
	char *copy = strdup(name), *slash;
	bool frozen = false;

	while (copy && !frozen && (slash = strrchr(copy, '/'))) {
		char buf[16];
		int fd;

		*slash = '\0';
		fd = cgfs_open_dir(ctx->rootfd, copy);
		if (fd < 0)
			break;
		frozen =
		    cgfs_read_line(fd, "cgroup.freeze", buf, sizeof(buf)) == 0 && buf[0] == '1';
		close(fd);
	}
	free(copy);
	return frozen;
}

static int
v2_status(const struct cg_ctx *ctx, const char *name, int gfd, struct cg_status *st)
{
	char buf[16];
	long frozen = 0;
	int err = cgfs_read_line(gfd, "cgroup.freeze", buf, sizeof(buf));

	if (err == -ENOENT)
		return -EOPNOTSUPP; /* kernel < 5.2 */
	if (err < 0)
		return err;
	st->self = buf[0] == '1';
	err = cgfs_read_key(gfd, "cgroup.events", "frozen", &frozen);
	if (err < 0)
		return err == -ENODATA ? -EOPNOTSUPP : err;
	st->parent = v2_parent_freezing(ctx, name);
	if (frozen)
		st->state = CG_FROZEN;
	else
		st->state = st->self || st->parent ? CG_FREEZING : CG_THAWED;
	st->tasks = cgfs_count(gfd, "cgroup.threads");
	return 0;
}

/* Wait until cgroup.events says "frozen <want>" or the deadline passes.
 * Reading the file re-arms kernfs' change notification for poll(). */
static int
v2_wait(int gfd, long want, double deadline)
{
	char buf[512];
	int err, fd = openat(gfd, "cgroup.events", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLPRI};
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		long frozen = -1;
		double left = deadline - cg_now();

		if (n < 0 && errno == EINTR && !cg_interrupted)
			continue;
		err = n < 0 ? -errno : 0;
		if (n >= 0) {
			buf[n] = '\0';
			err = cgfs_parse_key(buf, "frozen", &frozen);
		}
		if (err < 0 || frozen == want)
			break;
		err = cg_interrupted ? -EINTR : left <= 0 ? -ETIMEDOUT : 0;
		if (err < 0)
			break;
		poll(&pfd, 1, left > 0.1 ? 100 : (int)(left * 1000) + 1);
	}
	close(fd);
	return err;
}

/* ---- both ---- */

int
cg_status_read(const struct cg_ctx *ctx, const char *name, int gfd, struct cg_status *st)
{
	memset(st, 0, sizeof(*st));
	st->procs = cgfs_count(gfd, "cgroup.procs");
	if (ctx->ver == CG_V1)
		return v1_status(ctx, name, gfd, st);
	return v2_status(ctx, name, gfd, st);
}

int
cg_thaw_write(const struct cg_ctx *ctx, const char *name, int gfd)
{
	if (ctx->ver == CG_V1)
		return v1_write_state(ctx, name, gfd, "THAWED");
	return cgfs_write(gfd, "cgroup.freeze", "0");
}

int
cg_freeze(const struct cg_ctx *ctx, const char *name, int gfd, double timeout, bool nowait)
{
	double deadline = cg_now() + timeout;
	int err;

	if (ctx->ver == CG_V1 && nowait)
		return v1_write_state(ctx, name, gfd, "FROZEN");
	if (ctx->ver == CG_V1) {
		err = v1_freeze_loop(ctx, name, gfd, deadline);
	} else {
		err = cgfs_write(gfd, "cgroup.freeze", "1");
		if (err == -ENOENT)
			return -EOPNOTSUPP;
		if (err == 0 && !nowait)
			err = v2_wait(gfd, 1, deadline);
	}
	if (err < 0)
		cg_thaw_write(ctx, name, gfd);
	return err;
}

int
cg_thaw(const struct cg_ctx *ctx, const char *name, int gfd, double timeout)
{
	struct cg_status st;
	double deadline = cg_now() + timeout;
	int err = cg_thaw_write(ctx, name, gfd);

	if (err == -ENOENT && ctx->ver == CG_V2)
		return -EOPNOTSUPP;
	while (err == 0) {
		if ((err = cg_status_read(ctx, name, gfd, &st)) < 0)
			break;
		if (st.state == CG_THAWED)
			break;
		if (st.parent)
			return -EBUSY;
		if (cg_now() >= deadline)
			return -ETIMEDOUT;
		if (ctx->ver == CG_V2)
			err = v2_wait(gfd, 0, deadline);
		else
			cg_sleep(1e-3);
	}
	return err;
}
