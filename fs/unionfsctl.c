/*
 * unionfsctl.c - run-time control of a unionfs mount: debug output, the
 * branch list with its counters, mount-wide statistics, which branch serves
 * a file, and online branch changes (add, remove, mode).
 *
 * Everything except `which` is one command line sent to the daemon through
 * the UFS_IOC_CTL ioctl on a directory of the mount (ufs_ctl.h); the reply
 * carries a status and the text to show.  `which` reads the read-only
 * virtual xattrs user.unionfs.branch and user.unionfs.hidden.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common.h"
#include "ufs_ctl.h"

#define CTL_MAX_INDEX 1000000UL

static const char ctl_help[] =
    "Usage: unionfsctl [-d on|off] [-p DEBUGFILE] PATH\n"
    "       unionfsctl branches [--json] PATH\n"
    "       unionfsctl stats [--json] PATH\n"
    "       unionfsctl which [--json] FILE\n"
    "       unionfsctl add PATH BRANCH[=RO|RW] [--at N]\n"
    "       unionfsctl remove PATH N|BRANCH [--force]\n"
    "       unionfsctl mode PATH N|BRANCH ro|rw\n"
    "Control a mounted unionfs at run time.  PATH is any file or directory\n"
    "inside the mount.\n"
    "\n"
    "Commands:\n"
    "  (none)      -d on|off switches debug output, -p DEBUGFILE sends it to\n"
    "              DEBUGFILE and switches it on; applied in the order given\n"
    "  branches    branches with mode, device and per-branch counters\n"
    "  stats       mount-wide counters\n"
    "  which       the branch serving FILE and the lower copies it hides\n"
    "  add         add the directory BRANCH (default RO) at index N (default 0,\n"
    "              the top)\n"
    "  remove      remove a branch, by index or by path\n"
    "  mode        switch a branch between read-only and read-write\n"
    "\n"
    "Options:\n"
    "  -d on|off           switch debug output on or off\n"
    "  -p DEBUGFILE        write debug output to DEBUGFILE (and switch it on)\n"
    "  -j, --json          branches, stats, which: print JSON\n"
    "      --at N          add: index of the new branch (0 = top)\n"
    "  -f, --force         remove: proceed although files are open on the branch\n"
    "  -h, --help          show this help\n"
    "  -V, --version       show the version\n"
    "\n"
    "Changes (add, remove, mode, -d, -p) need root or the user who mounted.\n"
    "Exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 permission denied,\n"
    "5 not a unionfs mount or unsupported, 6 already exists, 7 timeout.\n"
    "See unionfsctl(8).\n";

enum { OPT_AT = 256 };

/* Options that a command accepts (struct ctl_cmd.opts). */
enum { CTL_O_JSON = 1, CTL_O_AT = 2, CTL_O_FORCE = 4 };

struct ctl_opts {
	bool json, force;
	unsigned long at;
};

typedef int (*ctl_cmd_fn)(const struct ctl_opts *o, char **args);

struct ctl_cmd {
	const char *name;
	ctl_cmd_fn fn;
	int nargs;
	int opts;
};

/* A branch as listed by the daemon's "branches json"; path owned. */
struct ctl_branch {
	long long index;
	char *path;
};

/* ---- the control channel ---- */

/* Directory part of path; caller frees. */
static char *
parent_dir(const char *path)
{
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		len--;
	while (len > 0 && path[len - 1] != '/')
		len--;
	if (len == 0)
		return strdup(".");
	while (len > 1 && path[len - 1] == '/')
		len--;
	return strndup(path, len);
}

/* Open the directory PATH, or the one holding PATH when it is not a
 * directory: an open regular file would count as busy on its branch, and a
 * fifo or device node would not reach the daemon.  Returns an fd or -errno;
 * -ENOTTY when it is not on a FUSE mount (so no foreign driver ever sees our
 * ioctl). */
static int
ctl_open(const char *path)
{
	struct statfs sfs;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 && errno == ENOTDIR) {
		char *dir = parent_dir(path);

		if (!dir)
			return -ENOMEM;
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		free(dir);
	}
	if (fd < 0)
		return -errno;
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != FUSE_SUPER_MAGIC) {
		close(fd);
		return -ENOTTY;
	}
	return fd;
}

/* Report a failure to reach the daemon; returns the exit code. */
static int
ctl_channel_error(const char *verb, const char *path, int err)
{
	if (err == ENOTTY || err == ENOSYS || err == EOPNOTSUPP) {
		cm_error(verb, path, "not on a unionfs mount");
		return CM_EX_UNSUPP;
	}
	cm_error(verb, path, "%s", strerror(err));
	return cm_errno_exit(err);
}

/* Open the control channel for PATH; returns 0 with *fd set, or an exit
 * code after printing the error. */
static int
ctl_connect(const char *verb, const char *path, int *fd)
{
	*fd = ctl_open(path);
	return *fd < 0 ? ctl_channel_error(verb, path, -*fd) : 0;
}

/* Send one command; on return *reply (caller frees) holds the reply text
 * after the status line.  Returns the daemon's status (0 or a positive
 * errno value) or -errno when the ioctl or the reply failed. */
static int
ctl_send(int fd, const char *cmd, char **reply)
{
	struct ufs_ctl_msg *msg;
	char *end;
	long status;

	if (strlen(cmd) >= sizeof(msg->buf))
		return -ENAMETOOLONG;
	msg = calloc(1, sizeof(*msg));
	if (!msg)
		return -ENOMEM;
	strcpy(msg->buf, cmd);
	if (ioctl(fd, UFS_IOC_CTL, msg) < 0) {
		int err = errno;

		free(msg);
		return -err;
	}
	msg->buf[sizeof(msg->buf) - 1] = '\0';
	status = strtol(msg->buf, &end, 10);
	if (end == msg->buf || (*end != '\n' && *end != '\0') || status < 0 || status > 4095) {
		free(msg);
		return -EPROTO;
	}
	memmove(msg->buf, *end ? end + 1 : end, strlen(end) + 1);
	*reply = msg->buf; /* buf is the first member: free(*reply) frees msg */
	return (int)status;
}

/* Print text, ending it with a newline when it has none. */
static void
print_text(FILE *out, const char *text)
{
	size_t len = strlen(text);

	fputs(text, out);
	if (len && text[len - 1] != '\n')
		fputc('\n', out);
}

/* Send cmd and handle a failure (printed as "VERB OBJECT: reason").
 * Returns 0 with *reply set (caller frees), or the exit code. */
static int
ctl_call(int fd, const char *verb, const char *obj, const char *cmd, char **reply)
{
	int st = ctl_send(fd, cmd, reply);

	if (st == -EPROTO) {
		cm_error(verb, obj, "malformed reply from the daemon");
		return CM_EX_FAIL;
	}
	if (st < 0)
		return ctl_channel_error(verb, obj, -st);
	if (st > 0) {
		char *nl = strchr(*reply, '\n');

		if (nl)
			*nl = '\0';
		cm_error(verb, obj, "%s", **reply ? *reply : strerror(st));
		free(*reply);
		return cm_errno_exit(st);
	}
	return 0;
}

/* Run one command on an open channel and print its output. */
static int
ctl_call_print(int fd, const char *verb, const char *obj, const char *cmd)
{
	char *reply;
	int ex = ctl_call(fd, verb, obj, cmd, &reply);

	if (ex)
		return ex;
	print_text(stdout, reply);
	free(reply);
	return 0;
}

/* Connect through path, run one command, print its output. */
static int
ctl_run(const char *verb, const char *obj, const char *path, const char *cmd)
{
	int fd, ex = ctl_connect(verb, path, &fd);

	if (ex)
		return ex;
	ex = ctl_call_print(fd, verb, obj, cmd);
	close(fd);
	return ex;
}

/* ---- a small reader for the daemon's "branches json" ---- */

static const char *
js_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* Append the UTF-8 encoding of code point cp to out. */
static char *
js_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		*out++ = (char)cp;
	} else if (cp < 0x800) {
		*out++ = (char)(0xc0 | cp >> 6);
		*out++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*out++ = (char)(0xe0 | cp >> 12);
		*out++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*out++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*out++ = (char)(0xf0 | cp >> 18);
		*out++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*out++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*out++ = (char)(0x80 | (cp & 0x3f));
	}
	return out;
}

/* Decode \uXXXX (and a following low surrogate) at p (just after the
 * backslash-u); returns the position after it, or NULL. */
static const char *
js_unicode(const char *p, char **out)
{
	unsigned long cp, lo;
	char hex[5] = {0}, *end;

	memcpy(hex, p, 4);
	cp = strtoul(hex, &end, 16);
	if (strnlen(p, 4) < 4 || end != hex + 4)
		return NULL;
	p += 4;
	if (cp >= 0xd800 && cp < 0xdc00 && p[0] == '\\' && p[1] == 'u') {
		memcpy(hex, p + 2, 4);
		lo = strtoul(hex, &end, 16);
		if (strnlen(p + 2, 4) == 4 && end == hex + 4 && lo >= 0xdc00 && lo < 0xe000) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		}
	}
	*out = js_utf8(*out, cp);
	return p;
}

/* Parse the string at p (at its opening quote) into *str (caller frees; NULL
 * to skip it); returns the position after it, or NULL when malformed. */
static const char *
js_string(const char *p, char **str)
{
	static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
	char *buf = malloc(strlen(p) + 1), *o = buf;

	if (!buf || *p++ != '"')
		goto fail;
	while (p && *p && *p != '"') {
		const char *e;

		if (*p != '\\') {
			*o++ = *p++;
		} else if (p[1] == 'u') {
			p = js_unicode(p + 2, &o);
		} else if (p[1] && (e = strchr(esc_in, p[1]))) {
			*o++ = esc_out[e - esc_in];
			p += 2;
		} else {
			goto fail;
		}
	}
	if (!p || *p != '"')
		goto fail;
	*o = '\0';
	if (str)
		*str = buf;
	else
		free(buf);
	return p + 1;
fail:
	free(buf);
	return NULL;
}

/* Skip one JSON value; NULL when malformed or nested too deeply. */
static const char *
js_skip(const char *p, int depth)
{
	char close;

	p = js_ws(p);
	if (*p == '"')
		return js_string(p, NULL);
	if (*p != '{' && *p != '[') {
		size_t n = strcspn(p, ",]} \t\r\n");

		return n ? p + n : NULL;
	}
	if (depth > CM_JSON_DEPTH)
		return NULL;
	close = *p == '{' ? '}' : ']';
	p = js_ws(p + 1);
	while (p && *p != close) {
		if (close == '}') {
			p = js_string(js_ws(p), NULL);
			p = p ? js_ws(p) : NULL;
			if (!p || *p++ != ':')
				return NULL;
		}
		p = js_skip(p, depth + 1);
		p = p ? js_ws(p) : NULL;
		if (p && *p == ',')
			p = js_ws(p + 1);
		else if (p && *p != close)
			return NULL;
	}
	return p ? p + 1 : NULL;
}

/* Parse one {"index":N,"path":"...",...} object into b. */
static const char *
js_branch(const char *p, struct ctl_branch *b)
{
	b->index = -1;
	p = js_ws(p);
	if (*p++ != '{')
		return NULL;
	for (p = js_ws(p); p && *p != '}';) {
		char *key = NULL, *end;

		p = js_string(p, &key);
		p = p ? js_ws(p) : NULL;
		if (!p || *p++ != ':') {
			free(key);
			return NULL;
		}
		p = js_ws(p);
		if (!strcmp(key, "index")) {
			b->index = strtoll(p, &end, 10);
			p = end == p ? NULL : end;
		} else if (!strcmp(key, "path") && !b->path) {
			p = js_string(p, &b->path);
		} else {
			p = js_skip(p, 1);
		}
		free(key);
		p = p ? js_ws(p) : NULL;
		if (p && *p == ',')
			p = js_ws(p + 1);
		else if (p && *p != '}')
			return NULL;
	}
	return p && b->index >= 0 && b->path ? p + 1 : NULL;
}

static void
branches_free(struct ctl_branch *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

/* Parse the JSON array of branches; returns the count or -errno. */
static long
js_branches(const char *p, struct ctl_branch **out)
{
	struct ctl_branch *v = NULL;
	size_t n = 0;

	p = js_ws(p);
	if (*p++ != '[')
		return -EPROTO;
	for (p = js_ws(p); p && *p != ']';) {
		struct ctl_branch *nv = realloc(v, (n + 1) * sizeof(*v));

		if (!nv) {
			branches_free(v, n);
			return -ENOMEM;
		}
		v = nv;
		v[n].path = NULL;
		p = js_branch(p, &v[n]);
		n++;
		p = p ? js_ws(p) : NULL;
		if (p && *p == ',')
			p = js_ws(p + 1);
		else if (p && *p != ']')
			p = NULL;
	}
	if (!p) {
		branches_free(v, n);
		return -EPROTO;
	}
	*out = v;
	return (long)n;
}

/* ---- branch arguments ---- */

/* PATH made absolute without needing it to exist; caller frees. */
static char *
abs_path(const char *path)
{
	char *cwd, *out;

	if (path[0] == '/')
		return strdup(path);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return NULL;
	if (asprintf(&out, "%s/%s", cwd, path) < 0)
		out = NULL;
	free(cwd);
	return out;
}

static bool
is_index(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* Whether the daemon's branch b is the directory want (canonical). */
static bool
branch_matches(const struct ctl_branch *b, const char *want)
{
	char *real;
	bool same;

	if (!strcmp(b->path, want))
		return true;
	real = realpath(b->path, NULL);
	same = real && !strcmp(real, want);
	free(real);
	return same;
}

/* Map a branch given by path to its index with "branches json".  Returns 0
 * with *index set, or the exit code after printing the error. */
static int
branch_index(int fd, const char *verb, const char *arg, unsigned long *index)
{
	struct ctl_branch *v = NULL;
	char *reply, *want = realpath(arg, NULL);
	long n = -ENOMEM;
	int ex;

	if (!want)
		want = abs_path(arg);
	ex = want ? ctl_call(fd, verb, arg, "branches json", &reply) : CM_EX_FAIL;
	if (!want)
		cm_error(verb, arg, "%s", strerror(ENOMEM));
	if (ex) {
		free(want);
		return ex;
	}
	n = js_branches(reply, &v);
	free(reply);
	ex = CM_EX_NOTFOUND;
	for (long i = 0; i < n && ex; i++) {
		if (branch_matches(&v[i], want)) {
			*index = (unsigned long)v[i].index;
			ex = 0;
		}
	}
	if (n < 0)
		cm_error(verb, arg, "malformed branch list from the daemon");
	else if (ex)
		cm_error(verb, arg, "not a branch of this union");
	free(want);
	if (n > 0)
		branches_free(v, (size_t)n);
	return n < 0 ? CM_EX_FAIL : ex;
}

/* Resolve N|BRANCH to an index: 0 or the exit code. */
static int
resolve_branch(int fd, const char *verb, const char *arg, unsigned long *index)
{
	if (!is_index(arg))
		return branch_index(fd, verb, arg, index);
	if (cm_parse_uint(arg, CTL_MAX_INDEX, index) < 0) {
		cm_error(verb, arg, "invalid branch index");
		return CM_EX_USAGE;
	}
	return 0;
}

/* Split BRANCH[=RO|RW]: *mode gets "ro" or "rw" (default ro) and the
 * suffix is cut off spec.  A suffix that is no mode word stays part of the
 * path (directory names may contain '='). */
static void
split_mode(char *spec, const char **mode)
{
	char *eq = strrchr(spec, '=');

	*mode = "ro";
	if (eq && (!strcasecmp(eq + 1, "ro") || !strcasecmp(eq + 1, "rw"))) {
		*mode = !strcasecmp(eq + 1, "rw") ? "rw" : "ro";
		*eq = '\0';
	}
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void
unescape_mountinfo(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* The mount point of the mount with device dev, from mountinfo; caller
 * frees; NULL when not found. */
static char *
mount_point_of(dev_t dev)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *found = NULL;
	size_t cap = 0;

	while (f && !found && getline(&line, &cap, f) > 0) {
		unsigned int maj, min;
		char mnt[4096];

		if (sscanf(line, "%*s %*s %u:%u %*s %4095s", &maj, &min, mnt) == 3 &&
		    makedev(maj, min) == dev) {
			unescape_mountinfo(mnt);
			found = strdup(mnt);
		}
	}
	free(line);
	if (f)
		fclose(f);
	return found;
}

/* Why the directory dir (canonical, stat st) cannot be a branch of the
 * union whose channel is fd, or NULL: a branch inside the union, or one
 * holding its mount point, would make the daemon recurse into itself. */
static const char *
branch_recurses(const char *dir, const struct stat *st, int fd)
{
	struct stat ust;
	char *mnt;
	size_t len = strlen(dir);
	bool holds;

	if (fstat(fd, &ust) < 0)
		return NULL;
	if (ust.st_dev == st->st_dev)
		return "the branch is inside the union";
	mnt = mount_point_of(ust.st_dev);
	holds = mnt && (len == 1 || (!strncmp(mnt, dir, len) && mnt[len] == '/'));
	free(mnt);
	return holds ? "the branch holds the union's mount point" : NULL;
}

/* The canonical directory for a new branch, checked; NULL after printing
 * the error with *ex set. */
static char *
branch_dir(const char *spec, const char *arg, int fd, int *ex)
{
	struct stat st;
	char *real = realpath(spec, NULL);
	const char *eq = strrchr(arg, '='), *why = NULL;

	if (!real && errno == ENOENT && eq && eq[1] && !strchr(eq, '/')) {
		cm_error("add", arg, "bad branch mode '%s' (use RO or RW)", eq + 1);
		*ex = CM_EX_USAGE;
	} else if (!real) {
		cm_error("add", arg, "%s", strerror(errno));
		*ex = cm_errno_exit(errno);
	} else if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		cm_error("add", arg, "%s", strerror(ENOTDIR));
		*ex = CM_EX_FAIL;
	} else if (strchr(real, '\n')) {
		cm_error("add", arg, "branch path contains a newline");
		*ex = CM_EX_USAGE;
	} else if ((why = branch_recurses(real, &st, fd))) {
		cm_error("add", arg, "%s", why);
		*ex = CM_EX_USAGE;
	} else {
		return real;
	}
	free(real);
	return NULL;
}

/* ---- commands ---- */

static int
cmd_branches(const struct ctl_opts *o, char **args)
{
	return ctl_run("branches", args[0], args[0], o->json ? "branches json" : "branches");
}

static int
cmd_stats(const struct ctl_opts *o, char **args)
{
	return ctl_run("stats", args[0], args[0], o->json ? "stats json" : "stats");
}

/* Read the xattr name of file; returns the value (caller frees) or NULL
 * with errno set. */
static char *
read_xattr(const char *file, const char *name)
{
	for (int tries = 0; tries < 8; tries++) {
		ssize_t len = lgetxattr(file, name, NULL, 0), got;
		char *buf;

		if (len < 0)
			return NULL;
		buf = malloc((size_t)len + 1);
		if (!buf)
			return NULL;
		got = lgetxattr(file, name, buf, (size_t)len);
		if (got >= 0) {
			buf[got] = '\0';
			return buf;
		}
		free(buf);
		if (errno != ERANGE)
			return NULL;
	}
	errno = ERANGE;
	return NULL;
}

static void
which_print(const struct ctl_opts *o, const char *file, const char *branch, char *hidden)
{
	char *save = NULL;
	struct cm_json j;

	if (!o->json) {
		printf("branch %s\n", branch);
		for (char *h = strtok_r(hidden, "\n", &save); h; h = strtok_r(NULL, "\n", &save))
			printf("hidden %s\n", h);
		return;
	}
	cm_json_init(&j, stdout);
	cm_json_obj_begin(&j);
	cm_json_key(&j, "file");
	cm_json_str(&j, file);
	cm_json_key(&j, "branch");
	cm_json_str(&j, branch);
	cm_json_key(&j, "hidden");
	cm_json_arr_begin(&j);
	for (char *h = strtok_r(hidden, "\n", &save); h; h = strtok_r(NULL, "\n", &save))
		cm_json_str(&j, h);
	cm_json_arr_end(&j);
	cm_json_obj_end(&j);
	cm_json_end(&j);
}

/* Report a failed xattr read of file; returns the exit code. */
static int
which_error(const char *file, int err)
{
	if (err == ENODATA || err == EOPNOTSUPP)
		return ctl_channel_error("which", file, ENOTTY);
	cm_error("which", file, "%s", strerror(err));
	return cm_errno_exit(err);
}

static int
cmd_which(const struct ctl_opts *o, char **args)
{
	const char *file = args[0];
	char *branch, *hidden;
	struct statfs sfs;
	struct stat st;

	if (lstat(file, &st) < 0 || statfs(file, &sfs) < 0)
		return which_error(file, errno);
	if (sfs.f_type != FUSE_SUPER_MAGIC)
		return ctl_channel_error("which", file, ENOTTY);
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		cm_error("which", file,
			 "only regular files and directories carry user xattrs (ask about its "
			 "directory)");
		return CM_EX_UNSUPP;
	}
	branch = read_xattr(file, UFS_XATTR_BRANCH);
	if (!branch)
		return which_error(file, errno);
	hidden = read_xattr(file, UFS_XATTR_HIDDEN);
	if (!hidden) {
		int err = errno;

		free(branch);
		return which_error(file, err);
	}
	which_print(o, file, branch, hidden);
	free(branch);
	free(hidden);
	return 0;
}

static int
cmd_add(const struct ctl_opts *o, char **args)
{
	char *spec, *dir = NULL, *cmd = NULL;
	const char *mode;
	int fd, ex = ctl_connect("add", args[0], &fd);

	if (ex)
		return ex;
	spec = strdup(args[1]);
	ex = CM_EX_FAIL;
	if (spec) {
		split_mode(spec, &mode);
		dir = branch_dir(spec, args[1], fd, &ex);
	}
	if (dir && asprintf(&cmd, "add %lu %s %s", o->at, mode, dir) < 0)
		cmd = NULL;
	if ((!spec || dir) && !cmd)
		cm_error("add", args[1], "%s", strerror(ENOMEM));
	if (cmd)
		ex = ctl_call_print(fd, "add", args[1], cmd);
	close(fd);
	free(cmd);
	free(dir);
	free(spec);
	return ex;
}

/* Run "VERB INDEX[ SUFFIX]" for a command that names a branch by N|BRANCH. */
static int
run_on_branch(const char *verb, const char *path, const char *arg, const char *suffix)
{
	unsigned long index;
	char cmd[128];
	int fd, ex = ctl_connect(verb, path, &fd);

	if (ex)
		return ex;
	ex = resolve_branch(fd, verb, arg, &index);
	if (!ex) {
		snprintf(cmd, sizeof(cmd), "%s %lu%s%s", verb, index, *suffix ? " " : "", suffix);
		ex = ctl_call_print(fd, verb, arg, cmd);
	}
	close(fd);
	return ex;
}

static int
cmd_remove(const struct ctl_opts *o, char **args)
{
	return run_on_branch("remove", args[0], args[1], o->force ? "force" : "");
}

static int
cmd_mode(const struct ctl_opts *o, char **args)
{
	const char *mode = !strcasecmp(args[2], "rw") ? "rw" : "ro";

	(void)o;
	if (strcasecmp(args[2], "rw") && strcasecmp(args[2], "ro")) {
		cm_error("mode", args[2], "bad mode (use ro or rw)");
		return CM_EX_USAGE;
	}
	return run_on_branch("mode", args[0], args[1], mode);
}

static const struct ctl_cmd ctl_cmds[] = {
    {"branches", cmd_branches, 1, CTL_O_JSON}, {"stats", cmd_stats, 1, CTL_O_JSON},
    {"which", cmd_which, 1, CTL_O_JSON},       {"add", cmd_add, 2, CTL_O_AT},
    {"remove", cmd_remove, 2, CTL_O_FORCE},    {"mode", cmd_mode, 3, 0},
};

static const struct ctl_cmd *
find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		if (!strcmp(ctl_cmds[i].name, name))
			return &ctl_cmds[i];
	return NULL;
}

/* ---- command line ---- */

/* Report getopt's '?' (unknown option) or ':' (missing argument) in our
 * voice; returns the usage exit code. */
static int
getopt_error(const char *cmd, int c, char **argv)
{
	char shortopt[3] = {'-', (char)optopt, '\0'};
	const char *opt = optopt > 0 && optopt < 256 ? shortopt : argv[optind - 1];

	if (c == ':')
		return cm_usage_error("%s%soption '%s' needs an argument", cmd ? cmd : "",
				      cmd ? ": " : "", opt);
	return cm_usage_error("%s%sinvalid option '%s'", cmd ? cmd : "", cmd ? ": " : "", opt);
}

static int
print_version(void)
{
	printf("unionfsctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
	return 0;
}

/* Apply one option of a command; 0, or -1 when it ends the program with
 * *ex set. */
static int
cmd_option(const struct ctl_cmd *cmd, int c, char **argv, struct ctl_opts *o, int *ex)
{
	static const struct {
		int c, bit;
		const char *name;
	} need[] = {
	    {'j', CTL_O_JSON, "--json"}, {'f', CTL_O_FORCE, "--force"}, {OPT_AT, CTL_O_AT, "--at"}};

	*ex = 0;
	if (c == 'h' || c == 'V') {
		*ex = c == 'h' ? (fputs(ctl_help, stdout), 0) : print_version();
		return -1;
	}
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (need[i].c == c && !(cmd->opts & need[i].bit)) {
			*ex =
			    cm_usage_error("%s: option %s does not apply", cmd->name, need[i].name);
			return -1;
		}
	}
	if (c == 'j')
		o->json = true;
	else if (c == 'f')
		o->force = true;
	else if (c == OPT_AT && cm_parse_uint(optarg, CTL_MAX_INDEX, &o->at) < 0)
		*ex = cm_usage_error("%s: invalid --at index '%s'", cmd->name, optarg);
	else if (c == '?' || c == ':')
		*ex = getopt_error(cmd->name, c, argv);
	return *ex ? -1 : 0;
}

static int
run_command(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},	     {"force", no_argument, NULL, 'f'},
	    {"at", required_argument, NULL, OPT_AT}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},     {NULL, 0, NULL, 0},
	};
	struct ctl_opts o = {0};
	int c, ex;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jfhV", longopts, NULL)) != -1)
		if (cmd_option(cmd, c, argv, &o, &ex) < 0)
			return ex;
	if (argc - optind != cmd->nargs)
		return cm_usage_error("%s: expected %d argument%s, got %d", cmd->name, cmd->nargs,
				      cmd->nargs == 1 ? "" : "s", argc - optind);
	for (int i = optind; i < argc; i++)
		if (!argv[i][0])
			return cm_usage_error("%s: empty argument", cmd->name);
	return cmd->fn(&o, argv + optind);
}

/* One -d or -p of the unionfs-fuse compatible form, as a command line. */
static int
debug_action(int c, const char *arg, char **cmd)
{
	char *file;
	int n;

	if (c == 'd') {
		if (strcmp(arg, "on") && strcmp(arg, "off"))
			return cm_usage_error("invalid -d value '%s' (use on or off)", arg);
		return asprintf(cmd, "debug %s", arg) < 0 ? CM_EX_FAIL : 0;
	}
	if (!*arg || strchr(arg, '\n'))
		return cm_usage_error("invalid debug file name '%s'", arg);
	file = abs_path(arg);
	n = file ? asprintf(cmd, "debugfile %s", file) : -1;
	free(file);
	return n < 0 ? CM_EX_FAIL : 0;
}

/* Send the collected -d/-p commands in order, stopping at the first error. */
static int
run_debug(const char *path, char **cmds, const char **objs, int n)
{
	int fd, ex = ctl_connect("debug", path, &fd);

	for (int i = 0; i < n && !ex; i++) {
		const char *verb = strncmp(cmds[i], "debugfile", 9) ? "debug" : "debugfile";

		ex = ctl_call_print(fd, verb, objs[i], cmds[i]);
	}
	if (fd >= 0)
		close(fd);
	return ex;
}

static int
legacy_parse(int argc, char **argv, char **cmds, const char **objs, int *n)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c, ex;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:p:hV", longopts, NULL)) != -1) {
		if (c == 'h')
			return fputs(ctl_help, stdout), -1;
		if (c == 'V')
			return print_version(), -1;
		if (c != 'd' && c != 'p')
			return getopt_error(NULL, c, argv);
		ex = debug_action(c, optarg, &cmds[*n]);
		if (ex)
			return ex;
		objs[*n] = c == 'd' ? optarg : cmds[*n] + strlen("debugfile ");
		(*n)++;
	}
	return 0;
}

/* unionfsctl [-d on|off] [-p DEBUGFILE] PATH, as in unionfs-fuse. */
static int
run_legacy(int argc, char **argv)
{
	char **cmds = calloc((size_t)argc, sizeof(*cmds));
	const char **objs = calloc((size_t)argc, sizeof(*objs));
	int n = 0, ex = cmds && objs ? legacy_parse(argc, argv, cmds, objs, &n) : CM_EX_FAIL;

	if (ex < 0)
		ex = 0; /* --help or --version */
	else if (!ex && argc - optind != 1)
		ex = argc - optind
			 ? cm_usage_error("expected one PATH, got %d arguments", argc - optind)
			 : cm_usage_error("missing PATH");
	else if (!ex && n == 0)
		ex = cm_usage_error("nothing to do: give -d on|off, -p DEBUGFILE or a command");
	else if (!ex)
		ex = run_debug(argv[optind], cmds, objs, n);
	for (int i = 0; i < n; i++)
		free(cmds[i]);
	free(cmds);
	free(objs);
	return ex;
}

int
main(int argc, char **argv)
{
	const struct ctl_cmd *cmd = argc > 1 ? find_cmd(argv[1]) : NULL;
	int ex;

	cm_set_prog("unionfsctl");
	if (argc < 2)
		return cm_usage_error("missing arguments");
	ex = cmd ? run_command(cmd, argc - 1, argv + 1) : run_legacy(argc, argv);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cm_error("write", "output", "%s", strerror(errno));
		return CM_EX_FAIL;
	}
	return ex;
}
