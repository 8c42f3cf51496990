/*
 * log.c - the one logging module.  Errors and warnings go to stderr; debug
 * output (-d, or -o debug_file=PATH) goes to stderr or the debug file.
 * Debug can be switched at run time, so the flag is atomic.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fuse_log.h>

#include "ufs.h"

static FILE *ufs_log_file;	/* debug destination (unionfsctl -p can move it) */
static _Atomic bool ufs_log_debug;

/* libfuse's own messages (request traces with -d) go where ours go. */
static void
fuse_log_to_ours(enum fuse_log_level level, const char *fmt, va_list ap)
{
	FILE *out = level >= FUSE_LOG_DEBUG ? ufs_log_file : stderr;
	char msg[1024];

	if (level >= FUSE_LOG_DEBUG && !ufs_log_debug_on())
		return;
	if (level >= FUSE_LOG_DEBUG) {
		vfprintf(out ? out : stderr, fmt, ap);
		return;
	}
	/* One voice on stderr: libfuse's "fuse: ..." errors become ours. */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "unionfs: %s", strncmp(msg, "fuse: ", 6) ? msg : msg + 6);
}

void
ufs_log_init(const char *debug_file, bool debug)
{
	if (!ufs_log_file)
		ufs_log_file = stderr;
	if (debug_file) {
		FILE *f = fopen(debug_file, "ae");

		if (f) {
			setvbuf(f, NULL, _IOLBF, 0);
			ufs_log_file = f;
			debug = true;
		} else {
			ufs_log(UFS_LOG_WARN, "cannot open debug file %s: %s", debug_file,
				strerror(errno));
		}
	}
	atomic_store(&ufs_log_debug, debug);
	fuse_set_log_func(fuse_log_to_ours);
}

void
ufs_log_set_debug(bool on)
{
	atomic_store(&ufs_log_debug, on);
}

/* Switch debug output to a new file (unionfsctl -p).  The old stream is
 * kept open: another thread may be writing to it right now. */
int
ufs_log_set_file(const char *path)
{
	FILE *f = fopen(path, "ae");

	if (!f)
		return -errno;
	setvbuf(f, NULL, _IOLBF, 0);
	__atomic_store_n(&ufs_log_file, f, __ATOMIC_RELEASE);
	atomic_store(&ufs_log_debug, true);
	return 0;
}

bool
ufs_log_debug_on(void)
{
	return atomic_load_explicit(&ufs_log_debug, memory_order_relaxed);
}

void
ufs_log(int level, const char *fmt, ...)
{
	static const char *const tags[] = { "error", "warning", "info", "debug" };
	FILE *out = level == UFS_LOG_DEBUG && ufs_log_file ? ufs_log_file : stderr;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (level == UFS_LOG_DEBUG)
		fprintf(out, "unionfs[%ld]: %s\n", (long)gettid(), msg);
	else
		fprintf(out, "unionfs: %s%s%s\n", level == UFS_LOG_ERR ? "" : tags[level],
			level == UFS_LOG_ERR ? "" : ": ", msg);
}
