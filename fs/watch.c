/*
 * watch.c - keep the kernel's caches true when the branches change behind
 * the mount's back (cache=auto).
 *
 * Changes made through the mount update the kernel's caches by themselves.
 * For changes made directly in a branch, a fanotify watch on each branch's
 * filesystem reports every directory-entry and attribute change with its
 * directory and name; this thread maps the directory back to a path in
 * the union and tells the kernel to drop the entry and the cached inode.
 * With the watch in place the kernel may cache for long (there is nothing
 * a timeout would catch that the watch does not); without it (not root, or
 * an old kernel) cache=auto falls back to 1 s timeouts.
 *
 * Events caused by this daemon itself are skipped.  A lost event (queue
 * overflow) invalidates every entry the kernel holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "ufs.h"

#define WATCH_MASK (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ATTRIB | \
		    FAN_CLOSE_WRITE | FAN_ONDIR)

#define WATCH_BATCH_MS 10	/* at most ~100 wake-ups a second */

struct ufs_watch {
	int fan;		/* fanotify group */
	int stop;		/* eventfd that ends the thread */
	pthread_t thread;
	pid_t self;
	pthread_mutex_t lock;	/* mntfd[] (branches can be added) */
	int mntfd[UFS_MAX_BRANCHES];	/* one readable fd per watched branch */
	int nmnt;
};

/* Node for a union path (NULL: the kernel knows no node there). */
static struct ufs_node *
node_at_path(struct ufs_fs *fs, const char *rel)
{
	struct ufs_node *n = fs->root;
	char *copy = strdup(rel), *save = NULL;

	for (char *c = copy ? strtok_r(copy, "/", &save) : NULL; c && n;
	     c = strtok_r(NULL, "/", &save)) {
		struct ufs_lookup lk;
		uint64_t key[2];

		if (ufs_resolve(fs, n, c, &lk) != 0) {
			n = NULL;
			break;
		}
		key[0] = lk.st.st_dev;
		key[1] = lk.st.st_ino;
		ufs_lookup_release(fs, &lk);
		pthread_mutex_lock(&fs->table_lock);
		HASH_FIND(hh, fs->nodes, key, sizeof(key), n);
		pthread_mutex_unlock(&fs->table_lock);
	}
	free(copy);
	return n;
}

static fuse_ino_t
id_of(struct ufs_fs *fs, struct ufs_node *n)
{
	return n == fs->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

/* The union path of an absolute directory path inside a branch; *branch
 * gets the branch's index. */
static const char *
union_path(struct ufs_fs *fs, const char *abs, int *branch)
{
	for (int b = 0; b < fs->nbr; b++) {
		size_t l = strlen(fs->br[b].path);

		if (!strncmp(abs, fs->br[b].path, l) && (abs[l] == '/' || abs[l] == '\0')) {
			*branch = b;
			return abs[l] == '/' ? abs + l + 1 : abs + l;
		}
	}
	return NULL;
}

/* Drop the kernel's idea of dir/name (and the directory's own caches). */
static void
invalidate(struct ufs_fs *fs, const char *dirpath, const char *name)
{
	struct ufs_node *dir;

	pthread_rwlock_rdlock(&fs->br_lock);
	dir = node_at_path(fs, dirpath);
	if (dir)
		ufs_node_ref(fs, dir);
	pthread_rwlock_unlock(&fs->br_lock);
	if (!dir)
		return;
	/* A meta directory change (whiteouts) affects the parent listing. */
	fuse_lowlevel_notify_inval_inode(fs->se, id_of(fs, dir), 0, 0);
	if (name && *name && strcmp(name, "."))
		fuse_lowlevel_notify_inval_entry(fs->se, id_of(fs, dir), name, strlen(name));
	ufs_node_unref(fs, dir);
}

/* Every entry the kernel holds (after lost events). */
static void
invalidate_all(struct ufs_fs *fs)
{
	struct ufs_node *n, *tmp, **all;
	size_t count, i = 0;

	pthread_mutex_lock(&fs->table_lock);
	count = HASH_COUNT(fs->nodes);
	all = malloc((count + 1) * sizeof(*all));
	HASH_ITER(hh, fs->nodes, n, tmp) {
		if (!all)
			break;
		n->refs++;
		n->parent->refs++;
		all[i++] = n;
	}
	pthread_mutex_unlock(&fs->table_lock);
	fuse_lowlevel_notify_inval_inode(fs->se, FUSE_ROOT_ID, 0, 0);
	for (size_t k = 0; k < i; k++) {
		char name[NAME_MAX + 1];

		pthread_mutex_lock(&fs->table_lock);
		strcpy(name, all[k]->name);
		pthread_mutex_unlock(&fs->table_lock);
		fuse_lowlevel_notify_inval_entry(fs->se, id_of(fs, all[k]->parent), name,
						 strlen(name));
		fuse_lowlevel_notify_inval_inode(fs->se, id_of(fs, all[k]), 0, 0);
	}
	for (size_t k = 0; k < i; k++) {
		struct ufs_node *parent = all[k]->parent;

		ufs_node_unref(fs, all[k]);
		ufs_node_unref(fs, parent);
	}
	free(all);
}

/* The directory of an event, opened (O_PATH) through any branch fd on the
 * same filesystem; -1 if none. */
static int
open_event_dir(struct ufs_fs *fs, struct fanotify_event_info_fid *fid)
{
	struct file_handle *fh = (struct file_handle *)fid->handle;
	struct ufs_watch *w = fs->watch;
	int fd = -1;

	pthread_mutex_lock(&w->lock);
	for (int i = 0; i < w->nmnt && fd < 0; i++)
		fd = open_by_handle_at(w->mntfd[i], fh, O_PATH | O_CLOEXEC);
	pthread_mutex_unlock(&w->lock);
	return fd;
}

static int
fd_path(int fd, char *buf, size_t size)
{
	char proc[64];
	ssize_t len;

	br_fd_path(fd, proc, sizeof(proc));
	len = readlink(proc, buf, size - 1);
	if (len < 0)
		return -1;
	buf[len] = '\0';
	return 0;
}

static void
handle_event(struct ufs_fs *fs, struct ufs_watch *w, const struct fanotify_event_metadata *m,
	     char *info, size_t infolen)
{
	struct fanotify_event_info_fid *fid;
	char path[PATH_MAX], hidden[NAME_MAX + 1];
	const char *name, *rel;
	struct stat st;
	bool skip;
	int b, dfd;

	if (m->mask & FAN_Q_OVERFLOW) {
		invalidate_all(fs);
		return;
	}
	if (m->pid == w->self || infolen < sizeof(*fid) + sizeof(struct file_handle))
		return;
	fid = (struct fanotify_event_info_fid *)info;
	if (fid->hdr.info_type != FAN_EVENT_INFO_TYPE_DFID_NAME &&
	    fid->hdr.info_type != FAN_EVENT_INFO_TYPE_DFID)
		return;
	name = fid->hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME
		       ? (const char *)((struct file_handle *)fid->handle)->f_handle +
				 ((struct file_handle *)fid->handle)->handle_bytes
		       : NULL;
	if ((dfd = open_event_dir(fs, fid)) < 0)
		return;
	/* Writes by passthrough happen in the writer's context, not ours,
	 * but they came through the mount: the kernel knows about them. */
	skip = (m->mask & FAN_CLOSE_WRITE) && !(m->mask & FAN_ONDIR) && name &&
	       fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       pt_wrote(fs, st.st_dev, st.st_ino);
	skip = skip || fd_path(dfd, path, sizeof(path)) < 0;
	close(dfd);
	if (skip || !(rel = union_path(fs, path, &b)))
		return;
	/* A meta directory made behind our back: start reading it. */
	if (!*rel && name && !strcmp(name, UFS_META_DIR)) {
		pthread_rwlock_rdlock(&fs->br_lock);
		br_meta_refresh(fs, b);
		pthread_rwlock_unlock(&fs->br_lock);
	}
	ufs_dbg("watch: %s %s", path, name ? name : "");
	/* Whiteouts live in a parallel tree: .unionfs/DIR/NAME_HIDDEN~. */
	if (!strncmp(rel, UFS_META_DIR "/", sizeof(UFS_META_DIR)) ||
	    !strcmp(rel, UFS_META_DIR)) {
		size_t len = name ? strlen(name) : 0, sl = strlen(UFS_HIDDEN_SUFFIX);

		rel += strlen(UFS_META_DIR);
		rel += *rel == '/';
		if (len > sl && !strcmp(name + len - sl, UFS_HIDDEN_SUFFIX) && len - sl < NAME_MAX) {
			memcpy(hidden, name, len - sl);
			hidden[len - sl] = '\0';
			name = hidden;
		} else {
			name = NULL;
		}
	}
	invalidate(fs, rel, name);
}

static void *
watch_thread(void *arg)
{
	struct ufs_fs *fs = arg;
	struct ufs_watch *w = fs->watch;
	char buf[16384] __attribute__((aligned(8)));	/* records inside are not */

	for (;;) {
		struct pollfd pfd[2] = { { w->fan, POLLIN, 0 }, { w->stop, POLLIN, 0 } };
		ssize_t len;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		len = read(w->fan, buf, sizeof(buf));
		if (len <= 0)
			continue;
		/* Records are only 4-byte aligned: copy each header out. */
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct fanotify_event_metadata) <= len;) {
			struct fanotify_event_metadata m;

			memcpy(&m, buf + off, sizeof(m));
			if (m.event_len < sizeof(m) || off + (ssize_t)m.event_len > len)
				break;
			handle_event(fs, w, &m, buf + off + sizeof(m), m.event_len - sizeof(m));
			off += m.event_len;
		}
		/* Our own requests cause most events (skipped above); let them
		 * pile up for a moment and take them in batches, rather than
		 * waking up for each one. */
		poll(pfd + 1, 1, WATCH_BATCH_MS);
	}
	return NULL;
}

/* Watch the filesystem holding a branch; keep a readable fd on it, which
 * open_by_handle_at() needs (an O_PATH fd is refused). */
static int
mark_branch(struct ufs_watch *w, const char *path)
{
	int fd, err = 0;

	if (fanotify_mark(w->fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, WATCH_MASK, AT_FDCWD,
			  path) < 0)
		return -errno;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&w->lock);
	if (w->nmnt < UFS_MAX_BRANCHES)
		w->mntfd[w->nmnt++] = fd;
	else
		err = -ENOSPC;
	pthread_mutex_unlock(&w->lock);
	if (err)
		close(fd);
	return err;
}

/* A branch added at run time (unionfsctl add): watch its filesystem too. */
int
ufs_watch_add_branch(struct ufs_fs *fs, const char *path)
{
	return fs->watch ? mark_branch(fs->watch, path) : 0;
}

static int
mark_branches(struct ufs_fs *fs, struct ufs_watch *w)
{
	for (int b = 0; b < fs->nbr; b++) {
		int err = mark_branch(w, fs->br[b].path);

		if (err)
			return err;
	}
	return 0;
}

static void
watch_free(struct ufs_watch *w)
{
	if (w->fan >= 0)
		close(w->fan);
	if (w->stop >= 0)
		close(w->stop);
	for (int i = 0; i < w->nmnt; i++)
		close(w->mntfd[i]);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int
ufs_watch_start(struct ufs_fs *fs)
{
	struct ufs_watch *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	w->self = getpid();
	pthread_mutex_init(&w->lock, NULL);
	w->stop = eventfd(0, EFD_CLOEXEC);
	w->fan = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_REPORT_DFID_NAME, O_RDONLY);
	err = w->fan < 0 || w->stop < 0 ? -errno : mark_branches(fs, w);
	if (!err) {
		fs->watch = w;
		err = -pthread_create(&w->thread, NULL, watch_thread, fs);
	}
	if (err) {
		watch_free(w);
		fs->watch = NULL;
		ufs_dbg("no fanotify watch (%s): cache=auto uses 1 s timeouts", strerror(-err));
	}
	return err;
}

void
ufs_watch_stop(struct ufs_fs *fs)
{
	struct ufs_watch *w = fs->watch;
	uint64_t one = 1;

	if (!w)
		return;
	if (write(w->stop, &one, sizeof(one)) == sizeof(one))
		pthread_join(w->thread, NULL);
	watch_free(w);
	fs->watch = NULL;
}
