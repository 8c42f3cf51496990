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
#define WATCH_BUF (64 * 1024)	/* one read: about 1000 events */
#define WATCH_OUTSIDE 256	/* directories known to lie outside every branch */
#define WATCH_KEY_MAX 48	/* fsid + handle type + handle bytes cached */

/* A directory of the watched filesystems that no branch contains.  Events
 * there (a busy neighbour on the branch's filesystem) are dropped without
 * the three system calls that find a directory's path. */
struct watch_outside {
	unsigned char len;	/* 0: free */
	unsigned char key[WATCH_KEY_MAX];
};

struct ufs_watch {
	int fan;		/* fanotify group */
	int stop;		/* eventfd that ends the thread */
	pthread_t thread;
	pid_t self;
	pthread_mutex_t lock;	/* mntfd[] (branches can be added) */
	int mntfd[UFS_MAX_BRANCHES];	/* one readable fd per watched branch */
	int nmnt;
	atomic_bool forget;	/* a branch was added: outside[] may be wrong */
	struct watch_outside outside[WATCH_OUTSIDE];	/* watch thread only */
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
		n = ufs_node_find_locked(fs, key);
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
	/* Each node with the parent it had when the refs were taken: a
	 * rename meanwhile gives it another, which holds no ref of ours. */
	struct held {
		struct ufs_node *n, *parent;
	} *all;
	struct ufs_node *n, *tmp;
	size_t count, i = 0;

	pthread_mutex_lock(&fs->table_lock);
	count = fs->nnodes;
	all = malloc((count + 1) * sizeof(*all));
	if (all)
		UFS_NODES_FOREACH(fs, n, tmp) {
			n->refs++;
			n->parent->refs++;
			all[i++] = (struct held){ n, n->parent };
		}
	pthread_mutex_unlock(&fs->table_lock);
	fuse_lowlevel_notify_inval_inode(fs->se, FUSE_ROOT_ID, 0, 0);
	for (size_t k = 0; k < i; k++) {
		char name[NAME_MAX + 1];

		pthread_mutex_lock(&fs->table_lock);
		strcpy(name, all[k].n->name);
		pthread_mutex_unlock(&fs->table_lock);
		fuse_lowlevel_notify_inval_entry(fs->se, id_of(fs, all[k].parent), name,
						 strlen(name));
		fuse_lowlevel_notify_inval_inode(fs->se, id_of(fs, all[k].n), 0, 0);
	}
	for (size_t k = 0; k < i; k++) {
		ufs_node_unref(fs, all[k].n);
		ufs_node_unref(fs, all[k].parent);
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

/* The directory's identity: fsid, handle type and handle; 0 if too long. */
static size_t
dir_key(const struct fanotify_event_info_fid *fid, unsigned char *key)
{
	const struct file_handle *fh = (const struct file_handle *)fid->handle;
	size_t len = sizeof(fid->fsid) + sizeof(fh->handle_type) + fh->handle_bytes;

	if (len > WATCH_KEY_MAX)
		return 0;
	memcpy(key, &fid->fsid, sizeof(fid->fsid));
	memcpy(key + sizeof(fid->fsid), &fh->handle_type, sizeof(fh->handle_type));
	memcpy(key + sizeof(fid->fsid) + sizeof(fh->handle_type), fh->f_handle, fh->handle_bytes);
	return len;
}

/* Directory moves and deletions change which directories lie outside. */
static void
outside_check(struct ufs_watch *w, const struct fanotify_event_metadata *m)
{
	bool moved = (m->mask & FAN_ONDIR) && (m->mask & (FAN_MOVED_FROM | FAN_MOVED_TO | FAN_DELETE));

	/* After an overflow a move may be among the events lost. */
	if (moved || (m->mask & FAN_Q_OVERFLOW) || atomic_exchange(&w->forget, false))
		memset(w->outside, 0, sizeof(w->outside));
}

/* The union path of an event's directory, NULL to ignore the event: the
 * directory lies outside every branch (remembered), is gone, or the event
 * is a passthrough write that came through the mount. */
static const char *
event_path(struct ufs_fs *fs, struct ufs_watch *w, struct fanotify_event_info_fid *fid,
	   const char *name, uint64_t mask, char *path, size_t size, int *b)
{
	unsigned char key[WATCH_KEY_MAX];
	size_t keylen = dir_key(fid, key);
	struct watch_outside *o;
	const char *rel = NULL;
	unsigned h = 0;
	struct stat st;
	int dfd;

	if (keylen)
		HASH_VALUE(key, keylen, h);
	o = &w->outside[h % WATCH_OUTSIDE];
	if (keylen && o->len == keylen && !memcmp(o->key, key, keylen))
		return NULL;
	if ((dfd = open_event_dir(fs, fid)) < 0)
		return NULL;
	if (fd_path(dfd, path, size) == 0 && !(rel = union_path(fs, path, b)) && keylen) {
		o->len = (unsigned char)keylen;
		memcpy(o->key, key, keylen);
	}
	/* Writes by passthrough happen in the writer's context, not ours,
	 * but they came through the mount: the kernel knows about them. */
	if (rel && (mask & FAN_CLOSE_WRITE) && !(mask & FAN_ONDIR) && name &&
	    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && pt_wrote(fs, st.st_dev, st.st_ino))
		rel = NULL;
	close(dfd);
	return rel;
}

static void
handle_event(struct ufs_fs *fs, struct ufs_watch *w, const struct fanotify_event_metadata *m,
	     char *info, size_t infolen)
{
	struct fanotify_event_info_fid *fid;
	char path[PATH_MAX], hidden[NAME_MAX + 1];
	const char *name, *rel;
	int b;

	UFS_STAT_ADD(fs->watch_events, 1);
	outside_check(w, m);
	if (m->mask & FAN_Q_OVERFLOW) {
		UFS_STAT_ADD(fs->watch_overflows, 1);
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
	if (!(rel = event_path(fs, w, fid, name, m->mask, path, sizeof(path), &b)))
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

/* Handle every record of one read; false when the queue is empty. */
static bool
drain_once(struct ufs_fs *fs, struct ufs_watch *w, char *buf, size_t size)
{
	ssize_t len = read(w->fan, buf, size);

	if (len <= 0)
		return false;
	/* Records are only 4-byte aligned: copy each header out. */
	for (ssize_t off = 0; off + (ssize_t)sizeof(struct fanotify_event_metadata) <= len;) {
		struct fanotify_event_metadata m;

		memcpy(&m, buf + off, sizeof(m));
		if (m.event_len < sizeof(m) || off + (ssize_t)m.event_len > len)
			break;
		handle_event(fs, w, &m, buf + off + sizeof(m), m.event_len - sizeof(m));
		off += m.event_len;
	}
	return true;
}

static void *
watch_thread(void *arg)
{
	struct ufs_fs *fs = arg;
	struct ufs_watch *w = fs->watch;
	char *buf = malloc(WATCH_BUF);

	while (buf) {
		struct pollfd pfd[2] = { { w->fan, POLLIN, 0 }, { w->stop, POLLIN, 0 } };

		if ((poll(pfd, 2, -1) < 0 && errno != EINTR) || pfd[1].revents)
			break;
		/* Empty the queue each time: it holds 16384 events, and a busy
		 * neighbour on the branch's filesystem fills it in under a
		 * second; an overflow costs every entry the kernel caches. */
		while (drain_once(fs, w, buf, WATCH_BUF))
			;
		/* Our own requests cause most events (skipped cheaply); let them
		 * pile up for a moment and take them in batches, rather than
		 * waking up for each one. */
		poll(pfd + 1, 1, WATCH_BATCH_MS);
	}
	free(buf);
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
	if (!fs->watch)
		return 0;
	atomic_store(&fs->watch->forget, true);
	return mark_branch(fs->watch, path);
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
	w->fan = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME, O_RDONLY);
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
