/*
 * fsx - file system exerciser for the reliability suite.
 *
 * Applies a seeded sequence of random reads, writes, truncates, mmap reads,
 * mmap writes and fallocate calls to ONE file and keeps an in-memory image
 * of what the file must contain.  Every read (and a periodic full-file
 * check) is compared with the image; the first difference stops the run
 * with the seed, the offending offset and the last operations, so a failure
 * can be replayed exactly with the same -S and -N.
 *
 * Usage: fsx [-N OPS] [-S SEED] [-l MAXLEN] [-o MAXOPLEN] [-c CHECKEVERY]
 *            [-i INITFILE] [-M] [-F] [-q] FILE
 *   -i INITFILE  FILE already exists with the contents of INITFILE (e.g. the
 *                lower-branch copy of a file the union will copy up); the
 *                image starts from INITFILE and FILE is not truncated
 *   -M           no mmap operations      -F  no fallocate operations
 * Exit status: 0 all operations verified, 1 data mismatch or an unexpected
 * error (details on stderr), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum fsx_opkind { OP_READ, OP_WRITE, OP_TRUNC, OP_MAPREAD, OP_MAPWRITE, OP_FALLOC, OP_KINDS };

static const char *const op_names[OP_KINDS] = {
	"read", "write", "truncate", "mapread", "mapwrite", "fallocate",
};

#define LOG_SIZE 64

struct fsx_logent {
	unsigned long long n;
	enum fsx_opkind kind;
	int mode;		/* fallocate mode */
	off_t off;
	size_t len;
	off_t size_before;
};

struct fsx {
	const char *path;
	int fd;
	unsigned long long seed, rng;
	unsigned long long nops, check_every;
	size_t maxlen, maxoplen;
	unsigned char *good, *buf;
	off_t size;
	bool use_mmap, use_falloc, quiet;
	bool falloc_ok[3];	/* 0: plain, 1: KEEP_SIZE, 2: PUNCH_HOLE */
	long pagesize;
	struct fsx_logent log[LOG_SIZE];
	unsigned long long done;
};

/* xorshift64*: deterministic for a given seed on every platform. */
static uint64_t
fsx_rand(struct fsx *x)
{
	x->rng ^= x->rng >> 12;
	x->rng ^= x->rng << 25;
	x->rng ^= x->rng >> 27;
	return x->rng * 0x2545F4914F6CDD1DULL;
}

static uint64_t
fsx_below(struct fsx *x, uint64_t n)
{
	return n ? fsx_rand(x) % n : 0;
}

static void
fsx_log_op(struct fsx *x, enum fsx_opkind kind, int mode, off_t off, size_t len)
{
	struct fsx_logent *e = &x->log[x->done % LOG_SIZE];

	e->n = x->done + 1;
	e->kind = kind;
	e->mode = mode;
	e->off = off;
	e->len = len;
	e->size_before = x->size;
}

static void
fsx_dump_log(const struct fsx *x)
{
	unsigned long long first = x->done + 1 > LOG_SIZE ? x->done + 1 - LOG_SIZE : 0;

	fprintf(stderr, "fsx: last operations (seed %llu):\n", x->seed);
	for (unsigned long long i = first; i <= x->done; i++) {
		const struct fsx_logent *e = &x->log[i % LOG_SIZE];

		if (e->n != i + 1)
			continue;
		fprintf(stderr, "  #%llu %s%s off=%jd len=%zu size_before=%jd\n", e->n,
			op_names[e->kind], e->kind == OP_FALLOC ?
			(e->mode == 0 ? "" : e->mode == 1 ? "(keep_size)" : "(punch_hole)") : "",
			(intmax_t)e->off, e->len, (intmax_t)e->size_before);
	}
}

static void
fsx_fail(const struct fsx *x, const char *what)
{
	fsx_dump_log(x);
	fprintf(stderr, "fsx: %s: FAILED at op #%llu (seed %llu, file %s)\n", what,
		x->done + 1, x->seed, x->path);
	exit(1);
}

static void
fsx_syserr(const struct fsx *x, const char *call)
{
	char what[128];

	snprintf(what, sizeof(what), "%s: %s", call, strerror(errno));
	fsx_fail(x, what);
}

/* Compare len bytes read at off with the image. */
static void
fsx_compare(const struct fsx *x, const unsigned char *got, off_t off, size_t len, const char *op)
{
	for (size_t i = 0; i < len; i++) {
		if (got[i] == x->good[off + i])
			continue;
		char what[160];

		snprintf(what, sizeof(what),
			 "%s: byte %jd is 0x%02x, expected 0x%02x (file size %jd)", op,
			 (intmax_t)(off + (off_t)i), got[i], x->good[off + i], (intmax_t)x->size);
		fsx_fail(x, what);
	}
}

static void
fsx_check_size(const struct fsx *x, const char *op)
{
	struct stat st;

	if (fstat(x->fd, &st) < 0)
		fsx_syserr(x, "fstat");
	if (st.st_size != x->size) {
		char what[128];

		snprintf(what, sizeof(what), "%s: file size is %jd, expected %jd", op,
			 (intmax_t)st.st_size, (intmax_t)x->size);
		fsx_fail(x, what);
	}
}

/* Read back len bytes at off with pread and compare them. */
static void
fsx_pread_check(struct fsx *x, off_t off, size_t len, const char *op)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(x->fd, x->buf + got, len - got, off + (off_t)got);

		if (r < 0)
			fsx_syserr(x, "pread");
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got != len) {
		char what[128];

		snprintf(what, sizeof(what), "%s: short read at %jd: %zu of %zu bytes", op,
			 (intmax_t)off, got, len);
		fsx_fail(x, what);
	}
	fsx_compare(x, x->buf, off, len, op);
}

static void
fsx_full_check(struct fsx *x)
{
	fsx_check_size(x, "check");
	for (off_t off = 0; off < x->size; off += (off_t)x->maxoplen) {
		size_t len = (size_t)(x->size - off) < x->maxoplen ? (size_t)(x->size - off)
								  : x->maxoplen;

		fsx_pread_check(x, off, len, "check");
	}
}

/* A random range [off, off+len) inside maxlen; within the file when
 * `inside` (and the file is not empty). */
static void
fsx_range(struct fsx *x, bool inside, off_t *off, size_t *len)
{
	size_t limit = inside ? (size_t)x->size : x->maxlen;

	*off = (off_t)fsx_below(x, limit);
	*len = 1 + (size_t)fsx_below(x, x->maxoplen);
	if ((size_t)*off + *len > limit)
		*len = limit - (size_t)*off;
}

static void
fsx_fill(struct fsx *x, off_t off, size_t len)
{
	/* Data unique to this op and position: a misplaced block shows. */
	unsigned char tag = (unsigned char)(x->done % 251 + 1);

	for (size_t i = 0; i < len; i++)
		x->buf[i] = (unsigned char)(((uint64_t)(off + (off_t)i) * 7 + tag) % 255 + 1);
}

static void
fsx_grow_image(struct fsx *x, off_t newsize)
{
	if (newsize > x->size)
		memset(x->good + x->size, 0, (size_t)(newsize - x->size));
	x->size = newsize;
}

static void
op_read(struct fsx *x)
{
	off_t off;
	size_t len;

	if (x->size == 0)
		return;
	fsx_range(x, true, &off, &len);
	fsx_log_op(x, OP_READ, 0, off, len);
	fsx_pread_check(x, off, len, "read");
}

static void
op_write(struct fsx *x)
{
	off_t off;
	size_t len, done = 0;

	fsx_range(x, false, &off, &len);
	fsx_log_op(x, OP_WRITE, 0, off, len);
	fsx_fill(x, off, len);
	while (done < len) {
		ssize_t r = pwrite(x->fd, x->buf + done, len - done, off + (off_t)done);

		if (r <= 0)
			fsx_syserr(x, "pwrite");
		done += (size_t)r;
	}
	if (off + (off_t)len > x->size)
		fsx_grow_image(x, off + (off_t)len);
	memcpy(x->good + off, x->buf, len);
}

static void
op_truncate(struct fsx *x)
{
	off_t newsize = (off_t)fsx_below(x, x->maxlen + 1);

	fsx_log_op(x, OP_TRUNC, 0, newsize, 0);
	if (ftruncate(x->fd, newsize) < 0)
		fsx_syserr(x, "ftruncate");
	fsx_grow_image(x, newsize);
	fsx_check_size(x, "truncate");
}

/* Page-aligned mapping that covers [off, off+len). */
static unsigned char *
fsx_map(struct fsx *x, off_t off, size_t len, int prot, off_t *pgoff, size_t *maplen)
{
	void *p;

	*pgoff = off - off % x->pagesize;
	*maplen = len + (size_t)(off - *pgoff);
	p = mmap(NULL, *maplen, prot, MAP_SHARED, x->fd, *pgoff);
	if (p == MAP_FAILED)
		fsx_syserr(x, "mmap");
	return p;
}

static void
op_mapread(struct fsx *x)
{
	off_t off, pgoff;
	size_t len, maplen;
	unsigned char *p;

	if (x->size == 0)
		return;
	fsx_range(x, true, &off, &len);
	fsx_log_op(x, OP_MAPREAD, 0, off, len);
	p = fsx_map(x, off, len, PROT_READ, &pgoff, &maplen);
	fsx_compare(x, p + (off - pgoff), off, len, "mapread");
	if (munmap(p, maplen) < 0)
		fsx_syserr(x, "munmap");
}

static void
op_mapwrite(struct fsx *x)
{
	off_t off, pgoff;
	size_t len, maplen;
	unsigned char *p;

	fsx_range(x, false, &off, &len);
	fsx_log_op(x, OP_MAPWRITE, 0, off, len);
	/* A mapping cannot extend a file: grow it first, like fsx does. */
	if (off + (off_t)len > x->size) {
		if (ftruncate(x->fd, off + (off_t)len) < 0)
			fsx_syserr(x, "ftruncate (mapwrite)");
		fsx_grow_image(x, off + (off_t)len);
	}
	fsx_fill(x, off, len);
	p = fsx_map(x, off, len, PROT_READ | PROT_WRITE, &pgoff, &maplen);
	memcpy(p + (off - pgoff), x->buf, len);
	if (msync(p, maplen, MS_SYNC) < 0)
		fsx_syserr(x, "msync");
	if (munmap(p, maplen) < 0)
		fsx_syserr(x, "munmap");
	memcpy(x->good + off, x->buf, len);
}

static const int falloc_modes[3] = {
	0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
};

static void
op_fallocate(struct fsx *x)
{
	int m = (int)fsx_below(x, 3);
	off_t off;
	size_t len;

	if (!x->falloc_ok[m])
		return;
	fsx_range(x, m == 2, &off, &len);
	if (len == 0)
		return;
	fsx_log_op(x, OP_FALLOC, m, off, len);
	if (fallocate(x->fd, falloc_modes[m], off, (off_t)len) < 0) {
		if (errno != EOPNOTSUPP)
			fsx_syserr(x, "fallocate");
		/* Not offered by this filesystem: never try this mode again. */
		x->falloc_ok[m] = false;
		if (!x->quiet)
			fprintf(stderr, "fsx: fallocate mode %d not supported, skipped\n", m);
		return;
	}
	if (m == 0 && off + (off_t)len > x->size)
		fsx_grow_image(x, off + (off_t)len);
	if (m == 2)
		memset(x->good + off, 0, len);
	fsx_check_size(x, "fallocate");
}

static void
fsx_step(struct fsx *x)
{
	static void (*const ops[OP_KINDS])(struct fsx *) = {
		op_read, op_write, op_truncate, op_mapread, op_mapwrite, op_fallocate,
	};
	/* Weights: mostly data transfers, fewer size changes. */
	static const enum fsx_opkind table[] = {
		OP_READ, OP_READ, OP_READ, OP_WRITE, OP_WRITE, OP_WRITE, OP_TRUNC,
		OP_MAPREAD, OP_MAPREAD, OP_MAPWRITE, OP_MAPWRITE, OP_FALLOC,
	};
	enum fsx_opkind k = table[fsx_below(x, sizeof(table) / sizeof(table[0]))];

	if ((k == OP_MAPREAD || k == OP_MAPWRITE) && !x->use_mmap)
		k = k == OP_MAPREAD ? OP_READ : OP_WRITE;
	if (k == OP_FALLOC && !x->use_falloc)
		k = OP_TRUNC;
	ops[k](x);
}

static int
fsx_load_init(struct fsx *x, const char *init)
{
	int fd = open(init, O_RDONLY | O_CLOEXEC);
	ssize_t r;
	size_t got = 0;

	if (fd < 0) {
		fprintf(stderr, "fsx: open %s: %s\n", init, strerror(errno));
		return -1;
	}
	while ((r = read(fd, x->good + got, x->maxlen - got)) > 0)
		got += (size_t)r;
	close(fd);
	if (r < 0 || got == x->maxlen) {
		fprintf(stderr, "fsx: read %s: %s\n", init,
			r < 0 ? strerror(errno) : "larger than -l MAXLEN");
		return -1;
	}
	x->size = (off_t)got;
	return 0;
}

static int
fsx_usage(void)
{
	fprintf(stderr, "Usage: fsx [-N OPS] [-S SEED] [-l MAXLEN] [-o MAXOPLEN] "
			"[-c CHECKEVERY] [-i INITFILE] [-M] [-F] [-q] FILE\n");
	return 2;
}

static int
fsx_parse(struct fsx *x, int argc, char **argv, const char **init)
{
	int c;

	while ((c = getopt(argc, argv, "N:S:l:o:c:i:MFq")) != -1) {
		switch (c) {
		case 'N': x->nops = strtoull(optarg, NULL, 0); break;
		case 'S': x->seed = strtoull(optarg, NULL, 0); break;
		case 'l': x->maxlen = strtoull(optarg, NULL, 0); break;
		case 'o': x->maxoplen = strtoull(optarg, NULL, 0); break;
		case 'c': x->check_every = strtoull(optarg, NULL, 0); break;
		case 'i': *init = optarg; break;
		case 'M': x->use_mmap = false; break;
		case 'F': x->use_falloc = false; break;
		case 'q': x->quiet = true; break;
		default: return -1;
		}
	}
	if (optind != argc - 1 || x->maxlen == 0 || x->maxoplen == 0)
		return -1;
	x->path = argv[optind];
	return 0;
}

int
main(int argc, char **argv)
{
	struct fsx x = {
		.nops = 10000, .seed = 1, .maxlen = 256 * 1024, .maxoplen = 64 * 1024,
		.check_every = 1000, .use_mmap = true, .use_falloc = true,
		.falloc_ok = { true, true, true },
	};
	const char *init = NULL;

	if (fsx_parse(&x, argc, argv, &init) < 0)
		return fsx_usage();
	x.rng = x.seed * 0x9E3779B97F4A7C15ULL + 1;
	x.pagesize = sysconf(_SC_PAGESIZE);
	x.good = calloc(1, x.maxlen + 1);
	x.buf = malloc(x.maxlen > x.maxoplen ? x.maxlen : x.maxoplen);
	if (!x.good || !x.buf || (init && fsx_load_init(&x, init) < 0))
		return 1;
	x.fd = open(x.path, O_RDWR | O_CLOEXEC | (init ? 0 : O_CREAT | O_TRUNC), 0644);
	if (x.fd < 0) {
		fprintf(stderr, "fsx: open %s: %s\n", x.path, strerror(errno));
		return 1;
	}
	fsx_full_check(&x);
	for (x.done = 0; x.done < x.nops; x.done++) {
		fsx_step(&x);
		if (x.check_every && (x.done + 1) % x.check_every == 0)
			fsx_full_check(&x);
	}
	fsx_full_check(&x);
	/* Reopen: what a fresh open sees must match too. */
	if (close(x.fd) < 0 || (x.fd = open(x.path, O_RDONLY | O_CLOEXEC)) < 0)
		fsx_syserr(&x, "reopen");
	fsx_full_check(&x);
	close(x.fd);
	if (!x.quiet)
		printf("fsx: %llu operations verified (seed %llu, size %jd)\n", x.nops, x.seed,
		       (intmax_t)x.size);
	free(x.good);
	free(x.buf);
	return 0;
}
