/*
 * uring.c - FUSE over io_uring (Linux >= 6.14, fuse module parameter
 * enable_uring=Y).  The kernel then puts each request on the queue of the
 * CPU its caller runs on, and a thread pinned to that CPU takes it: the
 * request and its reply change hands on one CPU instead of waking an idle
 * one, which on a virtual machine is most of a round trip's cost.
 *
 * libfuse 3.14 knows nothing of it.  A request from a ring entry is laid
 * out as /dev/fuse would deliver it and handed to
 * fuse_session_process_buf(); the handler's reply goes out through the
 * custom I/O layer (passthrough.c), which gives it to ur_reply() here, and
 * lands in the entry of the request this thread is serving.  Every handler
 * replies before it returns (no fuse_req_t is kept for later), so that
 * thread-local routing sees every reply.
 *
 * /dev/fuse stays in use beside the rings: FORGET and INTERRUPT always
 * come that way, and every request does until all queues have an entry.
 */
#include <errno.h>
#include <linux/fuse.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ufs.h"

/* Kernel protocol 7.42 (Linux 6.14): include/uapi/linux/fuse.h. */
#define UR_HDR_SZ 128
struct ur_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};
struct ur_req_header {
	char in_out[UR_HDR_SZ];		/* fuse_in_header, then fuse_out_header */
	char op_in[UR_HDR_SZ];		/* the request's first argument */
	struct ur_ent_in_out ent;
};
struct ur_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};
enum { UR_CMD_REGISTER = 1, UR_CMD_COMMIT_AND_FETCH = 2 };

/* Two threads (one entry each) per CPU: a request that blocks, a
 * copy-up's fsync say, does not hold up the next caller on that CPU. */
#define UR_PER_QUEUE 2
/* Room before the payload for the in-header and the first argument, so
 * that the request is contiguous without copying the payload. */
#define UR_LEAD (sizeof(struct fuse_in_header) + UR_HDR_SZ)

enum { UR_TAG_ENTRY = 1, UR_TAG_STOP = 2 };

struct ur_thread {
	struct ufs_fs *fs;
	pthread_t tid;
	unsigned int qid;
	bool started;
	struct io_uring ring;
	struct ur_req_header hdr;
	struct iovec iov[2];	/* hdr, payload: registered with the kernel */
	char *buf;		/* UR_LEAD bytes, then the payload */
	size_t payload;
	uint64_t unique;	/* the request being served */
	bool replied;
};

/* The ring thread serving a request on this thread, if any. */
static __thread struct ur_thread *ur_cur;

static unsigned int
possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	unsigned int n = 0, a, b;
	int c;

	if (!f)
		return 0;
	/* "0-3,8-11": count the CPUs in every range. */
	for (;;) {
		if (fscanf(f, "%u", &a) != 1)
			break;
		b = a;
		c = fgetc(f);
		if (c == '-') {
			if (fscanf(f, "%u", &b) != 1)
				break;
			c = fgetc(f);
		}
		n += b - a + 1;
		if (c != ',')
			break;
	}
	fclose(f);
	return n;
}

static void
prep_cmd(struct ur_thread *t, uint32_t op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
	struct ur_cmd_req *cmd;

	/* The ring holds four commands and this is the only one in flight
	 * beside the stop poll, so there is always room.  An SQE128 entry is
	 * two struct io_uring_sqe long; the compiler is not told. */
	__asm__("" : "+r"(sqe));
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fuse_session_fd(t->fs->se);
	sqe->cmd_op = op;
	sqe->addr = (uintptr_t)t->iov;
	sqe->len = 2;
	sqe->user_data = UR_TAG_ENTRY;
	cmd = (struct ur_cmd_req *)sqe->cmd;
	cmd->qid = t->qid;
	cmd->commit_id = t->hdr.ent.commit_id;
}

/* The entry's reply is header h and `payload` bytes already in place. */
static void
set_reply(struct ur_thread *t, const struct fuse_out_header *h, size_t payload)
{
	memcpy(t->hdr.in_out, h, sizeof(*h));
	t->hdr.ent.payload_sz = payload;
	t->replied = true;
}

/* An error reply of our own, for a request no handler answered. */
static void
fail(struct ur_thread *t, int err)
{
	struct fuse_out_header h = { sizeof(h), -err, t->unique };

	set_reply(t, &h, 0);
}

/* Lay the request out as /dev/fuse would (in-header, first argument, the
 * rest) right before the payload, and run it through libfuse. */
static void
serve(struct ur_thread *t)
{
	struct fuse_in_header in;
	uint32_t psz = t->hdr.ent.payload_sz;
	size_t arg0;
	struct fuse_buf b = { 0 };

	memcpy(&in, t->hdr.in_out, sizeof(in));
	t->unique = in.unique;
	t->replied = false;
	if (psz > t->payload || in.len < sizeof(in) + psz ||
	    (arg0 = in.len - sizeof(in) - psz) > UR_HDR_SZ) {
		ufs_log(UFS_LOG_ERR, "io_uring: request %lu of %u bytes does not fit its entry",
			    (unsigned long)in.unique, in.len);
		fail(t, EIO);
		return;
	}
	b.mem = t->buf + UR_LEAD - arg0 - sizeof(in);
	b.size = in.len;
	memcpy(b.mem, &in, sizeof(in));
	memcpy((char *)b.mem + sizeof(in), t->hdr.op_in, arg0);
	atomic_fetch_add_explicit(&t->fs->ur_requests, 1, memory_order_relaxed);
	ur_cur = t;
	fuse_session_process_buf(t->fs->se, &b);
	ur_cur = NULL;
	if (!t->replied) {
		ufs_log(UFS_LOG_ERR, "io_uring: opcode %u got no reply", in.opcode);
		fail(t, EIO);
	}
}

bool
ur_reply(const struct iovec *iov, int count, ssize_t *res)
{
	struct ur_thread *t = ur_cur;
	const struct fuse_out_header *h = iov[0].iov_base;
	size_t n = 0, skip = sizeof(*h);

	if (!t || t->replied || iov[0].iov_len < sizeof(*h) || h->unique != t->unique)
		return false;
	for (int i = 0; i < count; i++) {
		size_t len = iov[i].iov_len - skip;

		if (n + len > t->payload) {
			fail(t, EIO);
			*res = -1;
			errno = EINVAL;
			return true;
		}
		/* memmove: a reply may quote the request's own payload. */
		memmove(t->buf + UR_LEAD + n, (const char *)iov[i].iov_base + skip, len);
		n += len;
		skip = 0;
	}
	set_reply(t, h, n);
	*res = (ssize_t)(sizeof(*h) + n);
	return true;
}

static int
read_full(int fd, void *p, size_t len)
{
	while (len > 0) {
		ssize_t r = read(fd, p, len);

		if (r <= 0)
			return -1;
		p = (char *)p + r;
		len -= (size_t)r;
	}
	return 0;
}

bool
ur_reply_pipe(int fd, size_t len, ssize_t *res)
{
	struct ur_thread *t = ur_cur;
	struct fuse_out_header h;

	if (!t || t->replied)
		return false;
	/* libfuse put the whole reply, header first, in the pipe. */
	if (len < sizeof(h) || len - sizeof(h) > t->payload || read_full(fd, &h, sizeof(h)) != 0 ||
	    h.unique != t->unique || read_full(fd, t->buf + UR_LEAD, len - sizeof(h)) != 0) {
		fail(t, EIO);
		*res = -1;
		errno = EIO;
		return true;
	}
	set_reply(t, &h, len - sizeof(h));
	*res = (ssize_t)len;
	return true;
}

static void
pin(unsigned int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* An offline CPU sends no requests; its threads may run anywhere. */
	sched_setaffinity(0, sizeof(set), &set);
}

/* Sleep up to ms; true when the daemon is stopping. */
static bool
stopping_within(struct ur_thread *t, int ms)
{
	struct pollfd pfd = { t->fs->ur_stop_fd, POLLIN, 0 };

	return poll(&pfd, 1, ms) > 0;
}

static void *
run(void *arg)
{
	struct ur_thread *t = arg;
	struct io_uring_params p = { 0 };
	struct io_uring_sqe *sqe;
	bool served = false, refused = false;
	int err;

	pin(t->qid);
	/* One task submits and reaps, and only when it waits anyway: the
	 * kernel's work for it runs then, without interrupting anything. */
	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	err = io_uring_queue_init_params(4, &t->ring, &p);
	if (err < 0) {
		ufs_log(UFS_LOG_ERR, "io_uring: queue %u: %s", t->qid, strerror(-err));
		return NULL;
	}
	sqe = io_uring_get_sqe(&t->ring);
	io_uring_prep_poll_add(sqe, t->fs->ur_stop_fd, POLLIN);
	sqe->user_data = UR_TAG_STOP;
	prep_cmd(t, UR_CMD_REGISTER);
	atomic_fetch_add(&t->fs->ur_live, 1);
	for (;;) {
		struct io_uring_cqe *cqe;
		uint64_t tag;
		int res;

		err = io_uring_submit_and_wait(&t->ring, 1);
		if (err < 0 && err != -EINTR)
			break;
		if (io_uring_peek_cqe(&t->ring, &cqe) != 0)
			continue;
		tag = cqe->user_data;
		res = cqe->res;
		io_uring_cqe_seen(&t->ring, cqe);
		if (tag == UR_TAG_STOP)
			break;
		if (res == -EOPNOTSUPP && served) {
			/* enable_uring was set back to N: the kernel refuses every
			 * ring command until it is Y again, and the request this
			 * entry answers waits for its reply.  Keep the reply and
			 * offer it again. */
			if (!refused)
				ufs_log(UFS_LOG_WARN, "io_uring: queue %u: the kernel refuses "
					"the ring (enable_uring=N?); retrying", t->qid);
			refused = true;
			if (stopping_within(t, 100))
				break;
			prep_cmd(t, UR_CMD_COMMIT_AND_FETCH);
			continue;
		}
		if (res < 0) {
			/* ENOTCONN: the connection ends (unmount). */
			if (res != -ENOTCONN && res != -ECANCELED)
				ufs_log(UFS_LOG_ERR, "io_uring: queue %u: %s", t->qid, strerror(-res));
			break;
		}
		served = true;
		refused = false;
		serve(t);
		prep_cmd(t, UR_CMD_COMMIT_AND_FETCH);
	}
	atomic_fetch_sub(&t->fs->ur_live, 1);
	io_uring_queue_exit(&t->ring);
	return NULL;
}

/* Kernel's payload size (fs/fuse/dev_uring.c): the largest of 8 KiB,
 * max_write and max_pages pages. */
static size_t
payload_size(uint32_t max_write, uint32_t max_pages)
{
	size_t n = 8192, page = (size_t)sysconf(_SC_PAGESIZE);

	if (max_write > n)
		n = max_write;
	if ((size_t)max_pages * page > n)
		n = (size_t)max_pages * page;
	return n;
}

void
ur_start(struct ufs_fs *fs, uint32_t max_write, uint32_t max_pages)
{
	unsigned int nq = possible_cpus(), n = nq * UR_PER_QUEUE;
	size_t payload = payload_size(max_write, max_pages);
	sigset_t all, old;

	if (nq == 0)
		return;
	fs->ur_threads = calloc(n, sizeof(*fs->ur_threads));
	fs->ur_stop_fd = eventfd(0, EFD_CLOEXEC);
	if (!fs->ur_threads || fs->ur_stop_fd < 0) {
		ufs_log(UFS_LOG_ERR, "io_uring: %s", strerror(errno));
		goto out_free;
	}
	/* The rings' threads leave signals to the others. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned int i = 0; i < n; i++) {
		struct ur_thread *t = &fs->ur_threads[i];

		t->fs = fs;
		t->qid = i / UR_PER_QUEUE;
		t->payload = payload;
		t->buf = malloc(UR_LEAD + t->payload);
		if (!t->buf)
			break;
		t->iov[0] = (struct iovec){ &t->hdr, sizeof(t->hdr) };
		t->iov[1] = (struct iovec){ t->buf + UR_LEAD, t->payload };
		t->started = pthread_create(&t->tid, NULL, run, t) == 0;
		if (!t->started)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	fs->ur_nthreads = n;
	return;
out_free:
	free(fs->ur_threads);
	fs->ur_threads = NULL;
	if (fs->ur_stop_fd >= 0)
		close(fs->ur_stop_fd);
}

bool
ur_on(struct ufs_fs *fs)
{
	return fs->ur_nthreads > 0 && atomic_load(&fs->ur_live) == fs->ur_nthreads;
}

void
ur_stop(struct ufs_fs *fs)
{
	if (!fs->ur_threads)
		return;
	eventfd_write(fs->ur_stop_fd, 1);
	for (unsigned int i = 0; i < fs->ur_nthreads; i++) {
		struct ur_thread *t = &fs->ur_threads[i];

		if (t->started)
			pthread_join(t->tid, NULL);
		free(t->buf);
	}
	close(fs->ur_stop_fd);
	free(fs->ur_threads);
	fs->ur_threads = NULL;
	fs->ur_nthreads = 0;
}
