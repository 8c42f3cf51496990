/*
 * cgfs.c - fd-relative access to one cgroup hierarchy.
 *
 * Every lookup walks the user's relative group name one component at a time
 * with openat(O_NOFOLLOW), so a name can never escape the hierarchy root,
 * even on a plain-directory fake tree where symlinks could exist.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgfreeze.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* Copy component [p, end) into buf; -ENAMETOOLONG if it does not fit. */
static int
comp_copy(char *buf, const char *p, const char *end)
{
	size_t len = (size_t)(end - p);

	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return 0;
}

/* Walk the first ncomp components of name (-1: all) starting at dirfd. */
static int
walk(int dirfd, const char *name, int ncomp)
{
	char comp[NAME_MAX + 1];
	const char *p = name;
	int fd = openat(dirfd, ".", DIR_FLAGS);

	while (fd >= 0 && *p && ncomp != 0) {
		const char *end = strchrnul(p, '/');
		int next, err = comp_copy(comp, p, end);

		if (err < 0) {
			close(fd);
			return err;
		}
		next = openat(fd, comp, DIR_FLAGS);
		err = errno;
		close(fd);
		if (next < 0)
			return err == ELOOP || err == ENOTDIR ? -ENOENT : -err;
		fd = next;
		p = *end ? end + 1 : end;
		ncomp--;
	}
	return fd < 0 ? -errno : fd;
}

static int
count_comps(const char *name)
{
	int n = *name ? 1 : 0;

	for (const char *p = name; *p; p++)
		n += *p == '/';
	return n;
}

int
cgfs_open_dir(int dirfd, const char *name)
{
	return walk(dirfd, name, -1);
}

int
cgfs_open_parent(int dirfd, const char *name, const char **leaf)
{
	const char *slash = strrchr(name, '/');

	*leaf = slash ? slash + 1 : name;
	return walk(dirfd, name, count_comps(name) - 1);
}

int
cgfs_mkdir_path(int dirfd, const char *name, int *created)
{
	char comp[NAME_MAX + 1];
	const char *p = name;
	int n = count_comps(name), i = 0, err = 0;
	int fd = openat(dirfd, ".", DIR_FLAGS);

	*created = 0;
	for (; fd >= 0 && *p; i++) {
		const char *end = strchrnul(p, '/');
		int next;

		if ((err = comp_copy(comp, p, end)) < 0)
			break;
		if (mkdirat(fd, comp, 0755) == 0)
			(*created)++;
		else if (errno != EEXIST || *created > 0 || i == n - 1) {
			err = -errno;
			break;
		}
		next = openat(fd, comp, DIR_FLAGS);
		err = next < 0 ? -errno : 0;
		close(fd);
		fd = next;
		p = *end ? end + 1 : end;
	}
	if (fd >= 0)
		close(fd);
	else if (err == 0)
		err = -errno;
	if (err < 0 && err != -EEXIST)
		cgfs_rmdir_path(dirfd, name, *created);
	if (err < 0)
		*created = 0;
	return err;
}

int
cgfs_rmdir_path(int dirfd, const char *name, int n)
{
	int total = count_comps(name), err = 0;

	for (int depth = total; depth > total - n && depth > 0; depth--) {
		char comp[NAME_MAX + 1];
		const char *p = name;
		int fd;

		/* The last component of the first `depth` components. */
		for (int k = 1; k < depth; k++)
			p = strchr(p, '/') + 1;
		if (comp_copy(comp, p, strchrnul(p, '/')) < 0)
			return -ENAMETOOLONG;
		fd = walk(dirfd, name, depth - 1);
		if (fd < 0)
			return fd;
		if (unlinkat(fd, comp, AT_REMOVEDIR) < 0 && err == 0)
			err = -errno;
		close(fd);
	}
	return err;
}

int
cgfs_read_line(int dirfd, const char *file, char *buf, size_t size)
{
	ssize_t n = cm_read_at(dirfd, file, buf, size);

	if (n < 0)
		return (int)n;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int
cgfs_parse_key(char *buf, const char *key, long *val)
{
	char *save = NULL;
	size_t klen = strlen(key);

	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			*val = strtol(line + klen + 1, NULL, 10);
			return 0;
		}
	}
	return -ENODATA;
}

int
cgfs_read_key(int dirfd, const char *file, const char *key, long *val)
{
	char buf[4096];
	ssize_t n = cm_read_at(dirfd, file, buf, sizeof(buf));

	return n < 0 ? (int)n : cgfs_parse_key(buf, key, val);
}

int
cgfs_write(int dirfd, const char *file, const char *s)
{
	char line[64];
	int err, fd, len = snprintf(line, sizeof(line), "%s\n", s);

	/* one write() per value: kernfs treats every write as one command */
	if (len < 0 || (size_t)len >= sizeof(line))
		return -EINVAL;
	fd = openat(dirfd, file, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = cm_write_full(fd, line, (size_t)len);
	if (close(fd) < 0 && err == 0)
		err = -errno;
	return err;
}

/* Parse decimal numbers, one per line, from an open stream. */
static int
read_numbers(FILE *f, pid_t **pids, size_t *n)
{
	size_t cap = 0;
	long v;

	*pids = NULL;
	*n = 0;
	while (fscanf(f, "%ld", &v) == 1) {
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			pid_t *np = realloc(*pids, ncap * sizeof(**pids));

			if (!np) {
				free(*pids);
				*pids = NULL;
				return -ENOMEM;
			}
			*pids = np;
			cap = ncap;
		}
		(*pids)[(*n)++] = (pid_t)v;
	}
	return 0;
}

int
cgfs_read_pids(int dirfd, const char *file, pid_t **pids, size_t *n)
{
	int err, fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	FILE *f;

	*pids = NULL;
	*n = 0;
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "r");
	if (!f) {
		err = -errno;
		close(fd);
		return err;
	}
	err = read_numbers(f, pids, n);
	fclose(f);
	return err;
}

long
cgfs_count(int dirfd, const char *file)
{
	pid_t *pids;
	size_t n;
	int err = cgfs_read_pids(dirfd, file, &pids, &n);

	if (err == -ENOENT)
		return 0;
	if (err < 0)
		return err;
	free(pids);
	return (long)n;
}

int
cgfs_move(int gfd, const char *file, pid_t pid)
{
	char num[32];

	snprintf(num, sizeof(num), "%d", (int)pid);
	return cgfs_write(gfd, file, num);
}

/* Depth-first search of the group and its children for pid. */
int
cgfs_tree_has_pid(int gfd, pid_t pid, bool *found)
{
	pid_t *pids;
	size_t n;
	int err = cgfs_read_pids(gfd, "cgroup.procs", &pids, &n);
	DIR *d;
	struct dirent *de;

	if (err < 0 && err != -ENOENT)
		return err;
	for (size_t i = 0; i < n && !*found; i++)
		*found = pids[i] == pid;
	free(pids);
	if (*found)
		return 0;
	d = fdopendir(openat(gfd, ".", DIR_FLAGS));
	if (!d)
		return -errno;
	while (!*found && (de = readdir(d))) {
		int cfd;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		cfd = openat(dirfd(d), de->d_name, DIR_FLAGS);
		if (cfd < 0)
			continue; /* removed meanwhile */
		err = cgfs_tree_has_pid(cfd, pid, found);
		close(cfd);
		if (err < 0)
			break;
	}
	closedir(d);
	return err < 0 ? err : 0;
}

int
cgfs_first_child(int gfd, char *buf, size_t size)
{
	DIR *d = fdopendir(openat(gfd, ".", DIR_FLAGS));
	struct dirent *de;
	int err = -ENOENT;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(buf, size, "%s", de->d_name);
		err = 0;
		break;
	}
	closedir(d);
	return err;
}

bool
cgfs_pid_exists(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return access(path, F_OK) == 0;
}

/* Does the comma-separated controller list hold "freezer"? */
static bool
has_freezer(const char *ctrls, size_t len)
{
	const char *p = ctrls, *end = ctrls + len;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t l = comma ? (size_t)(comma - p) : (size_t)(end - p);

		if (l == 7 && !memcmp(p, "freezer", 7))
			return true;
		p += l + 1;
	}
	return false;
}

int
cgfs_proc_group(pid_t pid, enum cg_ver ver, char **path)
{
	char file[64], buf[8192];
	ssize_t n;

	snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
	n = cm_read_at(AT_FDCWD, file, buf, sizeof(buf));
	if (n < 0)
		return n == -ENOENT ? -ESRCH : (int)n;
	char *save = NULL;

	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		if (ver == CG_V2 ? (c2 == c1 + 1 && !strncmp(line, "0:", 2))
				 : has_freezer(c1 + 1, (size_t)(c2 - c1 - 1))) {
			*path = strdup(c2 + 1);
			return *path ? 0 : -ENOMEM;
		}
	}
	return -ENOENT;
}
