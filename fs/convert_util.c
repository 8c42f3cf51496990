/*
 * convert_util.c - unionfs-convert's small helpers: walking relative paths
 * one component at a time with O_NOFOLLOW (so a symlink planted in a branch
 * can never redirect a change outside it), removing trees through fds,
 * temporary names, xattrs and directory times.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "convert.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* Walk path below dirfd; mk: create missing components. */
static int
open_dir_walk(int dirfd, const char *path, bool mk)
{
	char *copy, *comp, *save = NULL;
	int fd, next;

	fd = openat(dirfd, ".", DIR_FLAGS);
	if (fd < 0)
		return -errno;
	copy = strdup(path);
	if (!copy) {
		close(fd);
		return -ENOMEM;
	}
	for (comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		if (mk && mkdirat(fd, comp, 0755) < 0 && errno != EEXIST)
			next = -errno;
		else if ((next = openat(fd, comp, DIR_FLAGS)) < 0)
			next = -errno;
		close(fd);
		fd = next;
		if (fd < 0)
			break;
	}
	free(copy);
	return fd;
}

int
cv_open_dir(int dirfd, const char *path)
{
	return open_dir_walk(dirfd, path, false);
}

int
cv_open_dir_mk(int dirfd, const char *path)
{
	return open_dir_walk(dirfd, path, true);
}

int
cv_lstat(int dirfd, const char *path, struct stat *st)
{
	char *dir;
	int fd, err = 0;

	if (!*path)
		return fstat(dirfd, st) < 0 ? -errno : 0;
	dir = cv_dirname(path);
	if (!dir)
		return -ENOMEM;
	fd = cv_open_dir(dirfd, dir);
	free(dir);
	if (fd < 0)
		return fd;
	if (fstatat(fd, cv_basename(path), st, AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	close(fd);
	return err;
}

int
cv_each_entry(int fd, cv_entry_fn fn, void *arg)
{
	struct dirent *de;
	DIR *d = fdopendir(fd);
	int err = 0;

	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	while (!err && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			err = fn(dirfd(d), de->d_name, arg);
	}
	closedir(d);
	return err;
}

static int
rmtree_entry(int dirfd, const char *name, void *arg)
{
	(void)arg;
	return cv_rmtree_at(dirfd, name);
}

int
cv_rmtree_at(int dirfd, const char *name)
{
	struct stat st;
	int fd, err;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	fd = openat(dirfd, name, DIR_FLAGS);
	if (fd < 0)
		return -errno;
	err = cv_each_entry(fd, rmtree_entry, NULL);
	if (!err && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		err = -errno;
	return err;
}

void
cv_tmpname(char *buf, size_t size)
{
	static unsigned long counter;

	snprintf(buf, size, CV_TMP "%ld.%lu", (long)getpid(), counter++);
}

bool
cv_is_tmpname(const char *name)
{
	return !strncmp(name, CV_TMP, sizeof(CV_TMP) - 1);
}

ssize_t
cv_getxattr(int fd, const char *name, char *buf, size_t size)
{
	ssize_t len = fgetxattr(fd, name, buf, size - 1);

	if (len < 0)
		return -errno;
	buf[len] = '\0';
	return len;
}

void
cv_times_save(int fd, struct cv_times *t)
{
	struct stat st;

	t->valid = fstat(fd, &st) == 0;
	if (t->valid) {
		t->ts[0] = st.st_atim;
		t->ts[1] = st.st_mtim;
	}
}

void
cv_times_restore(int fd, const struct cv_times *t)
{
	/* Best effort: the times are cosmetic, the marker change is done. */
	if (t->valid)
		(void)futimens(fd, t->ts);
}

const char *
cv_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

char *
cv_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? strndup(path, (size_t)(slash - path)) : strdup("");
}

void
cv_print_esc(FILE *out, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			fprintf(out, "\\%03o", *p);
		else
			fputc(*p, out);
	}
}

void
cv_print_path(FILE *out, const char *path)
{
	fputc('/', out);
	cv_print_esc(out, path);
}

int
cv_strv_add(char ***v, size_t *n, size_t *cap, const char *s)
{
	char **nv;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		nv = realloc(*v, *cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		*v = nv;
	}
	(*v)[*n] = strdup(s);
	if (!(*v)[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}
