/*
 * proc.c - processes and their namespaces, read from /proc.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "nsnet.h"

int
proc_ns_stat(pid_t pid, const char *type, dev_t *dev, ino_t *ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, type);
	if (stat(path, &st) < 0) {
		int err = errno;
		char dir[32];

		/* Tell a missing process from a namespace type this kernel lacks. */
		snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
		if (err == ENOENT && access(dir, F_OK) < 0)
			return -ESRCH;
		return -err;
	}
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

static int
pids_push(pid_t **v, size_t *n, size_t *cap, pid_t pid)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		pid_t *nv = realloc(*v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = pid;
	return 0;
}

static int
pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int
proc_net_pids(dev_t dev, ino_t ino, pid_t **pids, size_t *count)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t cap = 0;
	int err = 0;

	*pids = NULL;
	*count = 0;
	if (!d)
		return -errno;
	while (err == 0 && (de = readdir(d))) {
		dev_t pdev;
		ino_t pino;
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]) || cm_parse_pid(de->d_name, &pid) < 0)
			continue;
		/* Processes come and go while we scan: skip the vanished ones. */
		if (proc_ns_stat(pid, "net", &pdev, &pino) < 0)
			continue;
		if (pdev == dev && pino == ino)
			err = pids_push(pids, count, &cap, pid);
	}
	closedir(d);
	if (err < 0) {
		free(*pids);
		*pids = NULL;
		*count = 0;
		return err;
	}
	if (*count)
		qsort(*pids, *count, sizeof(**pids), pid_cmp);
	return 0;
}
