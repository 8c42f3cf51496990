/*
 * procns.c - `nsnet ns PID`: the namespaces of a process (what
 * `ls -l /proc/PID/ns` shows), compared with PID 1's, with the /run/netns
 * name of its network namespace.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nsnet.h"

static const char *const pn_types[] = {
	"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children",
	"time", "time_for_children", "user", "uts",
};

#define PN_NTYPES (sizeof(pn_types) / sizeof(pn_types[0]))

struct pn_row {
	const char *type;
	unsigned long long ino;
	char link[64];
	int same; /* 1 same as PID 1, 0 differs, -1 unknown */
	char *name; /* /run/netns name of the net row, owned */
};

/* The /run/netns name for dev/ino (the first in sorted order), or NULL. */
static char *
pn_netns_name(dev_t dev, ino_t ino)
{
	char **names, *found = NULL;
	size_t n;

	if (ns_names(&names, &n) < 0)
		return NULL;
	for (size_t i = 0; i < n && !found; i++) {
		dev_t d;
		ino_t in;

		if (ns_stat(names[i], &d, &in) == 0 && d == dev && in == ino)
			found = strdup(names[i]);
	}
	ns_names_free(names, n);
	return found;
}

/* Fill one row; -ENOENT when this kernel lacks the type. */
static int
pn_row_fill(pid_t pid, const char *type, struct pn_row *r)
{
	char path[64];
	dev_t dev, idev;
	ino_t ino, iino;
	ssize_t len;
	int err = proc_ns_stat(pid, type, &dev, &ino);

	if (err < 0)
		return err;
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->ino = ino;
	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, type);
	len = readlink(path, r->link, sizeof(r->link) - 1);
	r->link[len > 0 ? len : 0] = '\0';
	r->same = proc_ns_stat(1, type, &idev, &iino) < 0 ? -1 : (idev == dev && iino == ino);
	if (!strcmp(type, "net"))
		r->name = pn_netns_name(dev, ino);
	return 0;
}

static void
pn_print(const struct pn_row *rows, size_t n, const struct nn_opts *o)
{
	static const char *const same[] = {"?", "no", "yes"};
	struct cm_json j;

	if (!o->json) {
		printf("%-18s  %-11s  %-12s  %s\n", "TYPE", "INODE", "SAME_AS_INIT", "NAME");
		for (size_t i = 0; i < n; i++)
			printf("%-18s  %-11llu  %-12s  %s\n", rows[i].type, rows[i].ino,
			       same[rows[i].same + 1], rows[i].name ? rows[i].name : "-");
		return;
	}
	cm_json_init(&j, stdout);
	cm_json_arr_begin(&j);
	for (size_t i = 0; i < n; i++) {
		cm_json_obj_begin(&j);
		cm_json_key(&j, "type");
		cm_json_str(&j, rows[i].type);
		cm_json_key(&j, "inode");
		cm_json_uint(&j, rows[i].ino);
		cm_json_key(&j, "link");
		cm_json_str(&j, rows[i].link);
		cm_json_key(&j, "name");
		cm_json_str(&j, rows[i].name);
		cm_json_key(&j, "same_as_init");
		rows[i].same < 0 ? cm_json_null(&j) : cm_json_bool(&j, rows[i].same);
		cm_json_obj_end(&j);
	}
	cm_json_arr_end(&j);
	cm_json_end(&j);
}

int
cmd_ns(int argc, char **argv, const struct nn_opts *o)
{
	struct pn_row rows[PN_NTYPES];
	size_t n = 0;
	pid_t pid;
	int err = 0;

	(void)argc;
	if (cm_parse_pid(argv[0], &pid) < 0) {
		cm_error("ns", argv[0], "invalid PID");
		return CM_EX_USAGE;
	}
	for (size_t i = 0; i < PN_NTYPES && err == 0; i++) {
		err = pn_row_fill(pid, pn_types[i], &rows[n]);
		if (err == 0)
			n++;
		else if (err == -ENOENT)
			err = 0; /* type not supported by this kernel */
	}
	if (err == 0)
		pn_print(rows, n, o);
	for (size_t i = 0; i < n; i++)
		free(rows[i].name);
	return err < 0 ? nn_ns_fail("ns", argv[0], -err) : 0;
}
