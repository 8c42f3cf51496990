/*
 * common.c - error reporting, validation, fd-relative I/O and JSON output
 * shared by the command-line tools.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const char *cm_progname = "tool";

void
cm_set_prog(const char *prog)
{
	const char *slash = strrchr(prog, '/');

	cm_progname = slash ? slash + 1 : prog;
}

const char *
cm_prog(void)
{
	return cm_progname;
}

void
cm_error(const char *verb, const char *object, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cm_progname);
	if (verb)
		fputs(verb, stderr);
	if (object)
		fprintf(stderr, "%s%s", verb ? " " : "", object);
	fputs(verb || object ? ": " : "", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cm_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cm_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see %s --help)\n", cm_progname);
	return CM_EX_USAGE;
}

int
cm_errno_exit(int err)
{
	switch (err) {
	case 0:
		return CM_EX_OK;
	case ENOENT:
	case ESRCH:
	case ENODEV:
		return CM_EX_NOTFOUND;
	case EPERM:
	case EACCES:
		return CM_EX_PERM;
	case EOPNOTSUPP:
	case ENOSYS:
		return CM_EX_UNSUPP;
	case EEXIST:
		return CM_EX_EXISTS;
	case ETIMEDOUT:
		return CM_EX_TIMEOUT;
	case EINVAL:
		return CM_EX_USAGE;
	default:
		return CM_EX_FAIL;
	}
}

bool
cm_has_cap(int cap)
{
	char line[256];
	unsigned long long eff = 0;
	bool found = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return geteuid() == 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			found = true;
			break;
		}
	}
	fclose(f);
	if (!found)
		return geteuid() == 0;
	return (eff >> cap) & 1;
}

const char *
cm_check_path_component(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return "name is empty";
	if (len > NAME_MAX)
		return "name too long (max 255 bytes)";
	if (strchr(name, '/'))
		return "name contains '/'";
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return "name may not be '.' or '..'";
	return NULL;
}

const char *
cm_check_netns_name(const char *name)
{
	const char *why = cm_check_path_component(name);

	if (why)
		return why;
	if (name[0] == '-')
		return "name may not start with '-'";
	for (const char *p = name; *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return "name contains whitespace or control characters";
	return NULL;
}

const char *
cm_check_ifname(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return "interface name is empty";
	if (len > 15)
		return "interface name too long (max 15 bytes)";
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return "interface name may not be '.' or '..'";
	for (const char *p = name; *p; p++) {
		if (*p == '/' || *p == ':' || *p == '%')
			return "interface name contains '/', ':' or '%'";
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return "interface name contains whitespace or control characters";
	}
	return NULL;
}

const char *
cm_check_cgroup_name(const char *name)
{
	const char *p = name;

	if (*name == '\0')
		return "name is empty";
	if (*name == '/')
		return "name must be relative (no leading '/')";
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);

		if (len == 0)
			return "name has an empty path component";
		if (len > NAME_MAX)
			return "path component too long (max 255 bytes)";
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return "name may not contain '.' or '..' components";
		for (const char *q = p; q < end; q++)
			if (iscntrl((unsigned char)*q))
				return "name contains control characters";
		p = *end ? end + 1 : end;
		if (*end && *p == '\0')
			return "name has a trailing '/'";
	}
	return NULL;
}

int
cm_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int
cm_parse_pid(const char *s, pid_t *out)
{
	unsigned long v;

	if (cm_parse_uint(s, INT32_MAX, &v) < 0 || v == 0)
		return -EINVAL;
	*out = (pid_t)v;
	return 0;
}

int
cm_parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if (!isdigit((unsigned char)*s) && *s != '.')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0 || v > 86400.0 * 365)
		return -EINVAL;
	*out = v;
	return 0;
}

ssize_t
cm_read_at(int dirfd, const char *name, char *buf, size_t size)
{
	size_t off = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (off + 1 < size) {
		ssize_t n = read(fd, buf + off, size - 1 - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			close(fd);
			return -err;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	close(fd);
	return (ssize_t)off;
}

int
cm_write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
cm_write_at(int dirfd, const char *name, const char *s)
{
	int err;
	int fd = openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	err = cm_write_full(fd, s, strlen(s));
	if (close(fd) < 0 && err == 0)
		err = -errno;
	return err;
}

/* ---- JSON ---- */

void
cm_json_init(struct cm_json *j, FILE *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
}

/* Emit the separator owed before a new value at the current level. */
static void
json_sep(struct cm_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->need_comma[j->depth])
		fputc(',', j->out);
	j->need_comma[j->depth] = true;
}

static void
json_open(struct cm_json *j, char c)
{
	json_sep(j);
	fputc(c, j->out);
	if (j->depth + 1 < CM_JSON_DEPTH)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void
json_close(struct cm_json *j, char c)
{
	fputc(c, j->out);
	if (j->depth > 0)
		j->depth--;
}

void cm_json_obj_begin(struct cm_json *j) { json_open(j, '{'); }
void cm_json_obj_end(struct cm_json *j) { json_close(j, '}'); }
void cm_json_arr_begin(struct cm_json *j) { json_open(j, '['); }
void cm_json_arr_end(struct cm_json *j) { json_close(j, ']'); }

static void
json_quote(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p == '\t')
			fputs("\\t", out);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

void
cm_json_key(struct cm_json *j, const char *key)
{
	json_sep(j);
	json_quote(j->out, key);
	fputc(':', j->out);
	j->after_key = true;
}

void
cm_json_str(struct cm_json *j, const char *s)
{
	json_sep(j);
	if (s)
		json_quote(j->out, s);
	else
		fputs("null", j->out);
}

void
cm_json_int(struct cm_json *j, long long v)
{
	json_sep(j);
	fprintf(j->out, "%lld", v);
}

void
cm_json_uint(struct cm_json *j, unsigned long long v)
{
	json_sep(j);
	fprintf(j->out, "%llu", v);
}

void
cm_json_double(struct cm_json *j, double v)
{
	json_sep(j);
	if (isfinite(v))
		fprintf(j->out, "%.3f", v);
	else
		fputs("null", j->out);
}

void
cm_json_bool(struct cm_json *j, bool v)
{
	json_sep(j);
	fputs(v ? "true" : "false", j->out);
}

void
cm_json_null(struct cm_json *j)
{
	json_sep(j);
	fputs("null", j->out);
}

void
cm_json_end(struct cm_json *j)
{
	fputc('\n', j->out);
	fflush(j->out);
}
