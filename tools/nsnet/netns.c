/*
 * netns.c - named network namespaces under /run/netns, made and removed
 * exactly as `ip netns` does (same directory, same flock, same shared bind
 * mount), so both tools see each other's namespaces.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>

#include "nsnet.h"
#include "nl.h"

/* The netns this (single) thread started in; opened on first use. */
static int ns_home = -1;

int
ns_home_fd(void)
{
	if (ns_home < 0)
		ns_home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	return ns_home < 0 ? -errno : ns_home;
}

int
ns_enter(int nsfd)
{
	int home = ns_home_fd();

	if (home < 0)
		return home;
	return setns(nsfd, CLONE_NEWNET) < 0 ? -errno : 0;
}

int
ns_leave(void)
{
	int home = ns_home_fd();

	if (home < 0)
		return home;
	return setns(home, CLONE_NEWNET) < 0 ? -errno : 0;
}

static int
ns_path(const char *name, char *buf, size_t size)
{
	if ((size_t)snprintf(buf, size, "%s/%s", NN_RUN_DIR, name) >= size)
		return -ENAMETOOLONG;
	return 0;
}

int
ns_open(const char *name)
{
	struct statfs sfs;
	int dirfd, fd;

	if (!strcmp(name, NN_HOST)) {
		fd = ns_home_fd();
		return fd < 0 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 0);
	}
	dirfd = open(NN_RUN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dirfd);
	if (fd < 0)
		return -errno;
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != NSFS_MAGIC) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

int
ns_stat(const char *name, dev_t *dev, ino_t *ino)
{
	struct stat st;
	int fd = ns_open(name);

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

/*
 * Make /run/netns a shared mount in its own peer group, as iproute2 >= 7.0
 * does: bind it onto itself, make it private (a new peer group, so a shared
 * /run does not show every netns mount twice), then shared.  Called with
 * the directory lock held.
 */
static int
ns_share_dir(void)
{
	bool bound = false;

	while (mount("", NN_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) < 0) {
		if (errno != EINVAL || bound)
			return -errno;
		if (mount(NN_RUN_DIR, NN_RUN_DIR, "none", MS_BIND | MS_REC, NULL) < 0)
			return -errno;
		if (mount("", NN_RUN_DIR, "none", MS_PRIVATE | MS_REC, NULL) < 0)
			return -errno;
		bound = true;
	}
	return 0;
}

/* mkdir + flock + shared mount; returns the locked directory fd. */
static int
ns_prepare_dir(void)
{
	int fd, err;

	if (mkdir(NN_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = open(NN_RUN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Same lock as ip: parallel adds must not race the mount dance. */
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			err = -errno;
			close(fd);
			return err;
		}
	}
	err = ns_share_dir();
	if (err < 0) {
		close(fd);
		return err;
	}
	return fd;
}

/* Remove what a failed create left: mount (if any) and the file. */
static void
ns_remove_file(int dirfd, const char *path, const char *name)
{
	umount2(path, MNT_DETACH);
	unlinkat(dirfd, name, 0);
}

/* Bind-mount the nsfs file src onto the empty file at path. */
static int
ns_bind(const char *src, const char *path)
{
	return mount(src, path, "none", MS_BIND, NULL) < 0 ? -errno : 0;
}

/* Switch into a new netns, name it, optionally bring lo up, come back. */
static int
ns_unshare_bind(const char *path, bool lo_up)
{
	struct nl_sock nl;
	struct nl_link lo;
	int err;

	if (ns_home_fd() < 0)
		return -errno;
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	err = ns_bind("/proc/thread-self/ns/net", path);
	if (err == 0 && lo_up && (err = nl_open(&nl)) == 0) {
		err = nl_link_get(&nl, "lo", &lo);
		if (err == 0)
			err = nl_link_set_up(&nl, lo.index);
		nl_close(&nl);
	}
	if (ns_leave() < 0)
		abort();
	return err;
}

/* Create the O_EXCL name file, then run bind(); undo the file on error. */
static int
ns_make(const char *name, int (*bind_fn)(const char *path, void *arg), void *arg)
{
	char path[sizeof(NN_RUN_DIR) + NAME_MAX + 2];
	int dirfd, fd, err;

	err = ns_path(name, path, sizeof(path));
	if (err < 0)
		return err;
	dirfd = ns_prepare_dir();
	if (dirfd < 0)
		return dirfd;
	fd = openat(dirfd, name, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		close(dirfd);
		return err;
	}
	close(fd);
	err = bind_fn(path, arg);
	if (err < 0)
		ns_remove_file(dirfd, path, name);
	close(dirfd);
	return err;
}

static int
ns_create_bind(const char *path, void *arg)
{
	return ns_unshare_bind(path, *(bool *)arg);
}

int
ns_create(const char *name, bool lo_up)
{
	return ns_make(name, ns_create_bind, &lo_up);
}

static int
ns_attach_bind(const char *path, void *arg)
{
	char src[64];

	snprintf(src, sizeof(src), "/proc/self/fd/%d", *(int *)arg);
	return ns_bind(src, path);
}

/* Open the netns of pid so that a recycled PID cannot slip in between:
 * the pidfd proves the process was still alive after the open. */
static int
ns_open_pid(pid_t pid)
{
	char path[64];
	int pidfd, fd, err = 0;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		err = errno == ENOENT ? -ESRCH : -errno;
	else if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		err = -ESRCH;
	close(pidfd);
	if (err < 0 && fd >= 0)
		close(fd);
	return err < 0 ? err : fd;
}

int
ns_attach(const char *name, pid_t pid)
{
	int fd = ns_open_pid(pid);
	int err;

	if (fd < 0)
		return fd;
	err = ns_make(name, ns_attach_bind, &fd);
	close(fd);
	return err;
}

int
ns_delete(const char *name)
{
	const struct timespec pause = {0, 10 * 1000 * 1000};
	char path[sizeof(NN_RUN_DIR) + NAME_MAX + 2];
	int err = ns_path(name, path, sizeof(path));

	if (err < 0)
		return err;
	umount2(path, MNT_DETACH);
	/* A copy of the mount in another mount namespace makes unlink fail
	 * with EBUSY for a moment; retry briefly as container tools do. */
	for (int i = 0; i < 50; i++) {
		if (unlink(path) == 0)
			return 0;
		if (errno != EBUSY)
			return -errno;
		nanosleep(&pause, NULL);
	}
	return -EBUSY;
}

static int
ns_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
ns_push(char ***v, size_t *n, size_t *cap, const char *name)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		char **nv = realloc(*v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	(*v)[*n] = strdup(name);
	if (!(*v)[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

int
ns_names(char ***names, size_t *count)
{
	DIR *d = opendir(NN_RUN_DIR);
	struct dirent *de;
	size_t cap = 0;
	int err = 0;

	*names = NULL;
	*count = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (err == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		err = ns_push(names, count, &cap, de->d_name);
	}
	closedir(d);
	if (err < 0) {
		ns_names_free(*names, *count);
		return err;
	}
	if (*count)
		qsort(*names, *count, sizeof(**names), ns_cmp);
	return 0;
}

void
ns_names_free(char **names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

int
ns_handle_open(struct nn_handle *h, const char *name)
{
	int err;

	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->nl = calloc(1, sizeof(*h->nl));
	if (!h->nl)
		return -ENOMEM;
	h->fd = ns_open(name);
	if (h->fd < 0) {
		err = h->fd;
		free(h->nl);
		h->nl = NULL;
		return err;
	}
	err = nl_open_in(h->nl, h->fd);
	if (err < 0) {
		close(h->fd);
		free(h->nl);
		h->nl = NULL;
		h->fd = -1;
	}
	return err;
}

/* A handle is open exactly when h->nl is set; zeroed handles are closed. */
void
ns_handle_close(struct nn_handle *h)
{
	if (!h->nl)
		return;
	nl_close(h->nl);
	free(h->nl);
	close(h->fd);
	h->nl = NULL;
	h->fd = -1;
}
