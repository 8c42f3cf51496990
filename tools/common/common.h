/*
 * common.h - helpers shared by nsnet and cgfreeze (no FUSE headers here).
 *
 * Sections: exit codes and error reporting, input validation, small file
 * I/O relative to a directory fd, and a streaming JSON writer.  Library-style
 * functions return 0 or -errno and never print; only cm_error*() prints.
 */
#ifndef UFS_TOOLS_COMMON_H
#define UFS_TOOLS_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Exit codes shared by both tools (DESIGN.md section 2). */
enum cm_exit {
	CM_EX_OK = 0,
	CM_EX_FAIL = 1,
	CM_EX_USAGE = 2,
	CM_EX_NOTFOUND = 3,
	CM_EX_PERM = 4,
	CM_EX_UNSUPP = 5,
	CM_EX_EXISTS = 6,
	CM_EX_TIMEOUT = 7,
};

/* ---- error reporting ---- */

/* Set the program name used as the prefix of every message. */
void cm_set_prog(const char *prog);
const char *cm_prog(void);

/* Print "PROG: VERB OBJECT: reason" to stderr (OBJECT may be NULL). */
void cm_error(const char *verb, const char *object, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Print "PROG: message (see PROG --help)" to stderr; returns CM_EX_USAGE. */
int cm_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Map a positive errno value to the documented exit code. */
int cm_errno_exit(int err);

/* True when the process holds the capability (number from linux/capability.h). */
bool cm_has_cap(int cap);

/* ---- input validation: each returns NULL when valid, else a reason ---- */

/* One path component: 1-255 bytes, no '/', not "." or "..". */
const char *cm_check_path_component(const char *name);
/* A path component that is also a safe argument: no leading '-', no
 * whitespace or control characters. */
const char *cm_check_netns_name(const char *name);
const char *cm_check_ifname(const char *name);
/* Relative cgroup path: no leading '/', no '.'/'..' or empty components. */
const char *cm_check_cgroup_name(const char *name);
/* Parse a positive decimal PID; returns 0 or -EINVAL. */
int cm_parse_pid(const char *s, pid_t *out);
/* Parse an unsigned decimal (or fractional, for seconds) number. */
int cm_parse_uint(const char *s, unsigned long max, unsigned long *out);
int cm_parse_seconds(const char *s, double *out);

/* ---- file I/O relative to a directory fd (O_NOFOLLOW|O_CLOEXEC) ---- */

/* Read up to size-1 bytes of dirfd/name into buf, NUL-terminated; returns
 * the length read or -errno. */
ssize_t cm_read_at(int dirfd, const char *name, char *buf, size_t size);
/* Write the whole string to dirfd/name (no O_CREAT); returns 0 or -errno. */
int cm_write_at(int dirfd, const char *name, const char *s);
/* Write all of buf to fd, retrying on EINTR and short writes. */
int cm_write_full(int fd, const void *buf, size_t len);

/* ---- JSON writer ---- */

#define CM_JSON_DEPTH 32

/* Streaming writer: tracks nesting so commas and quoting are automatic. */
struct cm_json {
	FILE *out;
	int depth;
	bool need_comma[CM_JSON_DEPTH];
	bool after_key;
};

void cm_json_init(struct cm_json *j, FILE *out);
void cm_json_obj_begin(struct cm_json *j);
void cm_json_obj_end(struct cm_json *j);
void cm_json_arr_begin(struct cm_json *j);
void cm_json_arr_end(struct cm_json *j);
void cm_json_key(struct cm_json *j, const char *key);
void cm_json_str(struct cm_json *j, const char *s);	/* NULL writes null */
void cm_json_int(struct cm_json *j, long long v);
void cm_json_uint(struct cm_json *j, unsigned long long v);
void cm_json_double(struct cm_json *j, double v);
void cm_json_bool(struct cm_json *j, bool v);
void cm_json_null(struct cm_json *j);
/* Finish the document with a newline. */
void cm_json_end(struct cm_json *j);

#endif
