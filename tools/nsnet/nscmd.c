/*
 * nscmd.c - the namespace commands: add, del, attach, identify, pids.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "nsnet.h"

int
nn_ns_fail(const char *verb, const char *name, int err)
{
	switch (err) {
	case ENOENT:
		cm_error(verb, name, "no such network namespace");
		return CM_EX_NOTFOUND;
	case ESTALE:
		cm_error(verb, name, "not a mounted network namespace (stale file; "
				     "remove it with nsnet del)");
		return CM_EX_FAIL;
	case EEXIST:
		cm_error(verb, name, "network namespace already exists");
		return CM_EX_EXISTS;
	case ESRCH:
		cm_error(verb, name, "no such process");
		return CM_EX_NOTFOUND;
	}
	return nn_fail(verb, name, err, NULL);
}

/* Validate every name up front so that bad input touches nothing. */
static int
check_names(const char *verb, int argc, char **argv)
{
	bool create = !strcmp(verb, "add");

	for (int i = 0; i < argc; i++) {
		const char *why = create ? cm_check_netns_name(argv[i]) : nn_check_ns_lookup(argv[i]);

		if (why) {
			cm_error(verb, argv[i], "invalid netns name: %s", why);
			return CM_EX_USAGE;
		}
	}
	return 0;
}

/* With --exist-ok an existing live namespace counts as success. */
static int
add_one(struct undo_log *u, const char *name, const struct nn_opts *o)
{
	int err = ns_create(name, !o->no_lo);
	int fd;

	if (err == -EEXIST && o->exist_ok) {
		fd = ns_open(name);
		if (fd < 0)
			return nn_ns_fail("add", name, -fd);
		close(fd);
		return 0;
	}
	if (err < 0)
		return nn_ns_fail("add", name, -err);
	return undo_add_netns(u, name) < 0 ? nn_fail("add", name, ENOMEM, NULL) : 0;
}

int
cmd_add(int argc, char **argv, const struct nn_opts *o)
{
	struct undo_log *u;
	int rc, sig;

	if ((rc = check_names("add", argc, argv)) || (rc = nn_need_caps(o, "add", argv[0])))
		return rc;
	u = undo_begin("add", argv[0]);
	if (!u)
		return nn_fail("add", argv[0], ENOMEM, NULL);
	rc = 0;
	for (int i = 0; i < argc && rc == 0; i++) {
		if (undo_check(u) < 0)
			break;
		rc = add_one(u, argv[i], o);
	}
	sig = undo_end(u, rc == 0);
	return sig ? sig : rc;
}

static int
del_exists(const char *name)
{
	char path[sizeof(NN_RUN_DIR) + NAME_MAX + 2];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", NN_RUN_DIR, name);
	return lstat(path, &st) < 0 ? -errno : 0;
}

static void
del_warn_users(const char *name)
{
	dev_t dev;
	ino_t ino;
	pid_t *pids;
	size_t n;

	if (ns_stat(name, &dev, &ino) < 0 || proc_net_pids(dev, ino, &pids, &n) < 0)
		return;
	if (n)
		cm_error("del", name, "warning: still used by %zu process%s; the namespace "
				      "lives on until they leave", n, n == 1 ? "" : "es");
	free(pids);
}

static int
del_one(const char *name, const struct nn_opts *o)
{
	int err;

	if (!o->quiet)
		del_warn_users(name);
	err = ns_delete(name);
	if (err == -ENOENT && o->missing_ok)
		return 0;
	return err < 0 ? nn_ns_fail("del", name, -err) : 0;
}

static int
del_list(int argc, char **argv, const struct nn_opts *o)
{
	int rc = 0, err;

	/* Check everything first: a missing name must not leave half done. */
	for (int i = 0; i < argc; i++) {
		err = del_exists(argv[i]);
		if (err < 0 && !(err == -ENOENT && o->missing_ok))
			return nn_ns_fail("del", argv[i], -err);
	}
	for (int i = 0; i < argc; i++) {
		int r = del_one(argv[i], o);

		rc = rc ? rc : r;
	}
	return rc;
}

int
cmd_del(int argc, char **argv, const struct nn_opts *o)
{
	char **names;
	size_t n;
	int rc, err;

	if (o->all == (argc > 0)) {
		cm_error(NULL, "del", argc ? "give either names or --all, not both"
					   : "missing argument: NAME... or --all");
		return CM_EX_USAGE;
	}
	if ((rc = check_names("del", argc, argv)) || (rc = nn_need_caps(o, "del", argc ? argv[0] : "--all")))
		return rc;
	if (!o->all)
		return del_list(argc, argv, o);
	err = ns_names(&names, &n);
	if (err < 0)
		return nn_fail("del", NN_RUN_DIR, -err, NULL);
	rc = del_list((int)n, names, o);
	ns_names_free(names, n);
	return rc;
}

int
cmd_attach(int argc, char **argv, const struct nn_opts *o)
{
	const char *why = cm_check_netns_name(argv[0]);
	pid_t pid;
	int rc, err;

	(void)argc;
	if (why) {
		cm_error("attach", argv[0], "invalid netns name: %s", why);
		return CM_EX_USAGE;
	}
	if (cm_parse_pid(argv[1], &pid) < 0) {
		cm_error("attach", argv[1], "invalid PID");
		return CM_EX_USAGE;
	}
	if ((rc = nn_need_caps(o, "attach", argv[0])))
		return rc;
	err = ns_attach(argv[0], pid);
	if (err == -ESRCH)
		return nn_ns_fail("attach", argv[1], ESRCH);
	return err < 0 ? nn_ns_fail("attach", argv[0], -err) : 0;
}

static void
print_names(char **v, size_t n, const struct nn_opts *o)
{
	struct cm_json j;

	if (!o->json) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", v[i]);
		return;
	}
	cm_json_init(&j, stdout);
	cm_json_arr_begin(&j);
	for (size_t i = 0; i < n; i++)
		cm_json_str(&j, v[i]);
	cm_json_arr_end(&j);
	cm_json_end(&j);
}

/* Keep the names in v whose netns is dev/ino (compacting v in place). */
static size_t
identify_filter(char **v, size_t n, dev_t dev, ino_t ino)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++) {
		dev_t d;
		ino_t in;

		if (ns_stat(v[i], &d, &in) == 0 && d == dev && in == ino) {
			char *t = v[kept];

			v[kept++] = v[i];
			v[i] = t;
		}
	}
	return kept;
}

int
cmd_identify(int argc, char **argv, const struct nn_opts *o)
{
	pid_t pid = getpid();
	char **names;
	size_t n, kept;
	dev_t dev;
	ino_t ino;
	int err;

	if (argc && cm_parse_pid(argv[0], &pid) < 0) {
		cm_error("identify", argv[0], "invalid PID");
		return CM_EX_USAGE;
	}
	err = proc_ns_stat(pid, "net", &dev, &ino);
	if (err < 0)
		return nn_ns_fail("identify", argc ? argv[0] : "self", -err);
	err = ns_names(&names, &n);
	if (err < 0)
		return nn_fail("identify", NN_RUN_DIR, -err, NULL);
	kept = identify_filter(names, n, dev, ino);
	print_names(names, kept, o);
	ns_names_free(names, n);
	if (kept == 0 && o->strict) {
		cm_error("identify", argc ? argv[0] : "self", "no named network namespace matches");
		return CM_EX_NOTFOUND;
	}
	return 0;
}

int
cmd_pids(int argc, char **argv, const struct nn_opts *o)
{
	const char *why = nn_check_ns_lookup(argv[0]);
	struct cm_json j;
	pid_t *pids;
	size_t n;
	dev_t dev;
	ino_t ino;
	int err;

	(void)argc;
	if (why) {
		cm_error("pids", argv[0], "invalid netns name: %s", why);
		return CM_EX_USAGE;
	}
	err = ns_stat(argv[0], &dev, &ino);
	if (err == 0)
		err = proc_net_pids(dev, ino, &pids, &n);
	if (err < 0)
		return nn_ns_fail("pids", argv[0], -err);
	cm_json_init(&j, stdout);
	if (o->json)
		cm_json_arr_begin(&j);
	for (size_t i = 0; i < n; i++) {
		if (o->json)
			cm_json_int(&j, pids[i]);
		else
			printf("%d\n", (int)pids[i]);
	}
	if (o->json) {
		cm_json_arr_end(&j);
		cm_json_end(&j);
	}
	free(pids);
	return 0;
}
