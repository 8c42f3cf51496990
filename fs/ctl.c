/*
 * ctl.c - runtime control (unionfsctl): statistics, debug switching and
 * online branch changes, over the UFS_IOC_CTL ioctl (ufs_ctl.h); plus the
 * read-only user.unionfs.* xattrs that tell which branch serves a file.
 *
 * A branch change takes fs->br_lock for writing, so no request runs while
 * branch indexes move.  Then every known node is resolved again against the
 * new stack, parents before children; nodes whose object changed are
 * invalidated in the kernel after the lock is dropped (the kernel may need
 * a request answered to take its own locks, so never while we hold ours).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <strings.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ufs.h"
#include "ufs_ctl.h"

/* The reply under construction: status line, then text. */
struct reply {
	char *buf;
	size_t size, len;
};

static void __attribute__((format(printf, 2, 3)))
out(struct reply *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->len >= r->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->buf + r->len, r->size - r->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->len += (size_t)n < r->size - r->len ? (size_t)n : r->size - r->len - 1;
}

/* ---- statistics ---- */

static uint64_t
ld(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void
show_branches(struct ufs_fs *fs, struct reply *r, bool json)
{
	if (!json)
		out(r, "%-5s %-4s %-7s %10s %12s %12s %8s %9s %6s %s\n", "INDEX", "MODE", "DEVICE",
		    "LOOKUPS", "READ", "WRITTEN", "COPYUPS", "WHITEOUTS", "ERRORS", "PATH");
	else
		out(r, "[");
	for (int b = 0; b < fs->nbr; b++) {
		struct ufs_branch *br = &fs->br[b];
		struct ufs_brstats *s = &br->st;

		if (json)
			out(r, "%s{\"index\":%d,\"path\":\"%s\",\"mode\":\"%s\",\"device\":\"%u:%u\","
			       "\"lookups\":%lu,\"bytes_read\":%lu,\"bytes_written\":%lu,"
			       "\"copyups\":%lu,\"whiteouts\":%lu,\"errors\":%lu}",
			    b ? "," : "", b, br->path, br->rw ? "rw" : "ro", major(br->dev),
			    minor(br->dev), ld(&s->lookups), ld(&s->bytes_read),
			    ld(&s->bytes_written), ld(&s->copyups), ld(&s->whiteouts), ld(&s->errors));
		else
			out(r, "%-5d %-4s %3u:%-3u %10lu %12lu %12lu %8lu %9lu %6lu %s\n", b,
			    br->rw ? "rw" : "ro", major(br->dev), minor(br->dev), ld(&s->lookups),
			    ld(&s->bytes_read), ld(&s->bytes_written), ld(&s->copyups),
			    ld(&s->whiteouts), ld(&s->errors), br->path);
	}
	if (json)
		out(r, "]\n");
}

static void
count_table(struct ufs_fs *fs, size_t *nodes, size_t *files)
{
	struct ufs_handle *h;

	pthread_mutex_lock(&fs->table_lock);
	*nodes = fs->nnodes + 1;
	pthread_mutex_unlock(&fs->table_lock);
	*files = 0;
	pthread_mutex_lock(&fs->handle_lock);
	for (h = fs->handles.next; h != &fs->handles; h = h->next)
		(*files)++;
	pthread_mutex_unlock(&fs->handle_lock);
}

static void
show_stats(struct ufs_fs *fs, struct reply *r, bool json)
{
	size_t nodes, files;

	count_table(fs, &nodes, &files);
	out(r, json ? "{\"ops\":{" : "");
	for (int i = 0, n = 0; i < UFS_OP__COUNT; i++) {
		uint64_t v = ld(&fs->ops[i]);

		if (json)
			out(r, "%s\"%s\":%lu", n++ ? "," : "", ufs_op_names[i], v);
		else if (v)
			out(r, "op_%s %lu\n", ufs_op_names[i], v);
	}
	if (json)
		out(r, "},\"copyups\":%lu,\"bytes_copied\":%lu,\"cache_hits\":%lu,\"nodes\":%zu,"
		       "\"open_files\":%zu,\"passthrough\":%s,\"passthrough_files\":%zu,"
		       "\"uring\":%s,\"uring_requests\":%lu,\"watch_events\":%lu,"
		       "\"watch_overflows\":%lu}\n",
		    ld(&fs->copyups), ld(&fs->bytes_copied), ld(&fs->cache_hits), nodes, files,
		    fs->pt_on ? "true" : "false", pt_files(fs), ur_on(fs) ? "true" : "false",
		    ld(&fs->ur_requests), ld(&fs->watch_events), ld(&fs->watch_overflows));
	else
		out(r, "copyups %lu\nbytes_copied %lu\ncache_hits %lu\nnodes %zu\nopen_files %zu\n"
		       "passthrough %s\npassthrough_files %zu\nuring %s\nuring_requests %lu\n"
		       "watch_events %lu\nwatch_overflows %lu\n",
		    ld(&fs->copyups), ld(&fs->bytes_copied), ld(&fs->cache_hits), nodes, files,
		    fs->pt_on ? "on" : "off", pt_files(fs), ur_on(fs) ? "on" : "off",
		    ld(&fs->ur_requests), ld(&fs->watch_events), ld(&fs->watch_overflows));
}

/* ---- re-resolution after a branch change ---- */

/* A node whose kernel entry must be dropped, with its place in the tree. */
struct inval {
	struct ufs_node *n, *parent;	/* both referenced until sent */
	char *name;
};

struct change {
	struct ufs_node **nodes;	/* all nodes, parents first */
	size_t nnodes;
	struct inval *inv;
	size_t ninv;
};

static int
depth_of(const struct ufs_node *n)
{
	int d = 0;

	for (; n->parent; n = n->parent)
		d++;
	return d;
}

static int
by_depth(const void *a, const void *b)
{
	int da = depth_of(*(struct ufs_node *const *)a), db = depth_of(*(struct ufs_node *const *)b);

	return (da > db) - (da < db);
}

static int
collect_nodes(struct ufs_fs *fs, struct change *c)
{
	struct ufs_node *n, *tmp;
	size_t i = 0;

	c->nnodes = fs->nnodes;
	c->nodes = malloc((c->nnodes + 1) * sizeof(*c->nodes));
	c->inv = calloc(c->nnodes + 1, sizeof(*c->inv));
	if (!c->nodes || !c->inv)
		return -ENOMEM;
	UFS_NODES_FOREACH(fs, n, tmp)
		c->nodes[i++] = n;
	qsort(c->nodes, c->nnodes, sizeof(*c->nodes), by_depth);
	return 0;
}

static void
retire_fd(struct ufs_fs *fs, int fd)
{
	int *r = realloc(fs->retired, (fs->nretired + 1) * sizeof(int));

	if (!r) {
		close(fd);
		return;
	}
	fs->retired = r;
	fs->retired[fs->nretired++] = fd;
}

/* Point a directory node at exactly the per-branch fds of a new lookup. */
static void
adopt_dfds(struct ufs_fs *fs, struct ufs_node *n, struct ufs_lookup *lk)
{
	for (int b = 0; b < fs->nbr; b++) {
		int fd = lk->dfd ? lk->dfd[b] : -1;

		if (n->dfd[b] >= 0 && fd >= 0) {
			close(fd);
		} else if (n->dfd[b] >= 0) {
			retire_fd(fs, n->dfd[b]);
			n->dfd[b] = -1;
		} else {
			n->dfd[b] = fd;
		}
		if (lk->dfd)
			lk->dfd[b] = -1;
	}
}

static void
mark_stale(struct ufs_fs *fs, struct ufs_node *n)
{
	for (int b = 0; n->dfd && b < fs->nbr; b++) {
		if (n->dfd[b] >= 0)
			retire_fd(fs, n->dfd[b]);
		n->dfd[b] = -1;
	}
	n->branch = -1;
}

static void
queue_inval(struct ufs_node *n, struct change *c)
{
	struct inval *iv = &c->inv[c->ninv++];

	iv->n = n;
	iv->parent = n->parent;
	iv->name = strdup(n->name);
	n->refs++;
	n->parent->refs++;
}

/* Resolve one node again; queue a kernel invalidation if it changed.  A
 * directory keeps its node (it is the same merged directory with another
 * stack); a name that now shows a different file is detached from the node,
 * which stays with the files opened through it, and gets a new node at the
 * next lookup. */
static void
reresolve(struct ufs_fs *fs, struct ufs_node *n, struct change *c)
{
	struct ufs_lookup lk = { .branch = -1 };
	bool was = n->branch >= 0 || n->branch == UFS_BRANCH_GONE, changed;

	if (n->parent->branch < 0 || ufs_resolve(fs, n->parent, n->name, &lk) != 0 ||
	    (lk.st.st_mode & S_IFMT) != n->mode) {
		if (lk.branch >= 0)
			ufs_lookup_release(fs, &lk);
		changed = was;
		mark_stale(fs, n);
	} else if (!S_ISDIR(n->mode) && (lk.st.st_ino != n->key[1] || lk.st.st_dev != n->key[0])) {
		ufs_lookup_release(fs, &lk);
		changed = true;
		mark_stale(fs, n);
	} else {
		changed = lk.branch != n->branch || lk.st.st_ino != n->key[1] ||
			  lk.st.st_dev != n->key[0];
		if (n->dfd)
			adopt_dfds(fs, n, &lk);
		n->branch = (int16_t)lk.branch;
		if (changed) {
			ufs_origin_add(fs, &lk.st, n->ino);
			ufs_node_rekey(fs, n, &lk.st);
		}
		ufs_lookup_release(fs, &lk);
	}
	if (changed || S_ISDIR(n->mode))
		queue_inval(n, c);
}

/* Open files keep the object they opened, even when the name now shows a
 * different one: pin them so they never follow the node elsewhere. */
static void
pin_moved_files(struct ufs_fs *fs)
{
	for (struct ufs_handle *h = fs->handles.next; h != &fs->handles; h = h->next) {
		struct ufs_file *f = (struct ufs_file *)h;

		if (h->release == ufs_file_release_fn && f->branch != f->node->branch)
			f->pinned = true;
	}
}

static void
reresolve_all(struct ufs_fs *fs, struct change *c)
{
	for (size_t i = 0; i < c->nnodes; i++)
		reresolve(fs, c->nodes[i], c);
	pin_moved_files(fs);
}

static fuse_ino_t
nodeid(struct ufs_fs *fs, struct ufs_node *n)
{
	return n == fs->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

/* Tell the kernel, outside every lock; then drop the references. */
static void
send_invalidations(struct ufs_fs *fs, struct change *c)
{
	fuse_lowlevel_notify_inval_inode(fs->se, FUSE_ROOT_ID, 0, 0);
	for (size_t i = 0; i < c->ninv; i++) {
		struct inval *iv = &c->inv[i];

		if (iv->name)
			fuse_lowlevel_notify_inval_entry(fs->se, nodeid(fs, iv->parent), iv->name,
							 strlen(iv->name));
		fuse_lowlevel_notify_inval_inode(fs->se, nodeid(fs, iv->n), 0, 0);
		free(iv->name);
		ufs_node_unref(fs, iv->n);
		ufs_node_unref(fs, iv->parent);
	}
	free(c->inv);
	free(c->nodes);
}

/* Names in a new branch may be cached as negative entries: drop them. */
static void
inval_new_names(struct ufs_fs *fs, int b, struct change *c)
{
	for (size_t i = 0; i <= c->nnodes; i++) {
		struct ufs_node *dir = i < c->nnodes ? c->nodes[i] : fs->root;
		struct dirent *de;
		int fd;
		DIR *d;

		if (!dir->dfd || dir->dfd[b] < 0)
			continue;
		fd = br_opendir_path(dir->dfd[b], ".");
		if (fd < 0 || !(d = fdopendir(fd))) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		while ((de = readdir(d)) != NULL)
			fuse_lowlevel_notify_inval_entry(fs->se, nodeid(fs, dir), de->d_name,
							 strlen(de->d_name));
		closedir(d);
	}
}

/* ---- branch changes (br_lock held for writing) ---- */

/* Make room for branch index `at` in every per-branch array. */
static int
shift_in(struct ufs_fs *fs, int at, int rootfd, struct change *c)
{
	size_t n = (size_t)fs->nbr;	/* already counts the new branch */

	for (size_t i = 0; i <= c->nnodes; i++) {
		struct ufs_node *node = i < c->nnodes ? c->nodes[i] : fs->root;
		int *d;

		if (node->branch >= at)
			node->branch++;
		if (!node->dfd)
			continue;
		d = realloc(node->dfd, n * sizeof(int));
		if (!d)
			return -ENOMEM;
		memmove(d + at + 1, d + at, (n - 1 - (size_t)at) * sizeof(int));
		d[at] = node == fs->root ? rootfd : -1;
		node->dfd = d;
	}
	fs->root->branch = 0;	/* the root exists in every branch */
	return 0;
}

static void
shift_out(struct ufs_fs *fs, int idx, struct change *c)
{
	for (size_t i = 0; i <= c->nnodes; i++) {
		struct ufs_node *node = i < c->nnodes ? c->nodes[i] : fs->root;

		if (node->branch == idx)
			node->branch = node == fs->root ? 0 : UFS_BRANCH_GONE;
		else if (node->branch > idx)
			node->branch--;
		if (!node->dfd)
			continue;
		if (node->dfd[idx] >= 0)
			retire_fd(fs, node->dfd[idx]);
		memmove(node->dfd + idx, node->dfd + idx + 1,
			((size_t)fs->nbr - (size_t)idx - 1) * sizeof(int));
	}
}

static void
shift_handles(struct ufs_fs *fs, int idx, int delta)
{
	for (struct ufs_handle *h = fs->handles.next; h != &fs->handles; h = h->next) {
		struct ufs_file *f = (struct ufs_file *)h;

		if (h->release != ufs_file_release_fn)
			continue;
		if (delta < 0 && f->branch == idx)
			f->pinned = true;	/* keeps its fd on the removed branch */
		else if (f->branch >= idx)
			f->branch += delta;
	}
}

static int
open_files_on(struct ufs_fs *fs, int idx)
{
	int n = 0;

	pthread_mutex_lock(&fs->handle_lock);
	for (struct ufs_handle *h = fs->handles.next; h != &fs->handles; h = h->next)
		if (h->release == ufs_file_release_fn && ((struct ufs_file *)h)->branch == idx)
			n++;
	pthread_mutex_unlock(&fs->handle_lock);
	return n;
}

/* A new branch must not be in the stack already nor overlap the mount. */
static int
check_new_branch(struct ufs_fs *fs, const struct ufs_branch *nb, struct reply *r)
{
	char *mnt = realpath(fs->cfg.mountpoint, NULL);
	size_t ml = mnt ? strlen(mnt) : 0, bl = strlen(nb->path);
	int err = 0;

	for (int b = 0; b < fs->nbr && !err; b++)
		if (!strcmp(fs->br[b].path, nb->path))
			err = -EEXIST;
	if (err)
		out(r, "%s is already branch of this union\n", nb->path);
	else if (mnt && ((!strncmp(mnt, nb->path, bl) && (mnt[bl] == '/' || !mnt[bl])) ||
			 (!strncmp(nb->path, mnt, ml) && nb->path[ml] == '/'))) {
		out(r, "%s overlaps the mountpoint %s\n", nb->path, mnt);
		err = -EINVAL;
	}
	free(mnt);
	return err;
}

/* Open and check a new branch.  Outside br_lock: its path may lead through
 * this very mount, whose requests need the lock. */
static int
branch_prepare(struct ufs_fs *fs, bool rw, const char *path, struct ufs_branch *nb,
	       struct reply *r)
{
	char msg[512];
	int err;

	if (br_open(fs, path, rw, nb, msg, sizeof(msg)) < 0) {
		out(r, "%s\n", msg);
		return -ENOENT;
	}
	pthread_rwlock_rdlock(&fs->br_lock);
	err = check_new_branch(fs, nb, r);
	pthread_rwlock_unlock(&fs->br_lock);
	if (err)
		br_close(nb);
	return err;
}

/* Insert the prepared branch nb at `at` (br_lock held for writing). */
static int
branch_add(struct ufs_fs *fs, int at, struct ufs_branch nb, struct reply *r, struct change *c)
{
	int err = 0, rootfd;

	if (at < 0 || at > fs->nbr || fs->nbr >= UFS_MAX_BRANCHES) {
		out(r, "bad position %d (0..%d)\n", at, fs->nbr);
		err = -EINVAL;
	} else if (check_new_branch(fs, &nb, r) != 0) {
		err = -EEXIST;	/* added by another command meanwhile */
	}
	rootfd = err ? -1 : fcntl(nb.fd, F_DUPFD_CLOEXEC, 3);
	if (!err && (rootfd < 0 || collect_nodes(fs, c) < 0))
		err = -ENOMEM;
	if (err) {
		if (rootfd >= 0)
			close(rootfd);
		br_close(&nb);
		return err;
	}
	nb.metafd = openat(nb.fd, UFS_META_DIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	memmove(&fs->br[at + 1], &fs->br[at], (size_t)(fs->nbr - at) * sizeof(fs->br[0]));
	fs->br[at] = nb;
	fs->nbr++;
	ufs_watch_add_branch(fs, nb.path);
	err = shift_in(fs, at, rootfd, c);
	shift_handles(fs, at, 1);
	if (!err)
		reresolve_all(fs, c);
	out(r, "added %s as branch %d (%s)\n", nb.path, at, nb.rw ? "rw" : "ro");
	return err;
}

static int
branch_remove(struct ufs_fs *fs, int idx, bool force, struct reply *r, struct change *c)
{
	int nopen;

	if (idx < 0 || idx >= fs->nbr) {
		out(r, "no branch %d (0..%d)\n", idx, fs->nbr - 1);
		return -ENOENT;
	}
	if (fs->nbr == 1) {
		out(r, "cannot remove the last branch\n");
		return -EINVAL;
	}
	nopen = open_files_on(fs, idx);
	if (nopen && !force) {
		out(r, "branch %d has %d open file%s (use --force)\n", idx, nopen,
		    nopen == 1 ? "" : "s");
		return -EBUSY;
	}
	if (collect_nodes(fs, c) < 0)
		return -ENOMEM;
	shift_out(fs, idx, c);
	shift_handles(fs, idx, -1);
	out(r, "removed branch %d (%s)%s\n", idx, fs->br[idx].path,
	    nopen ? ", files still open on it keep working" : "");
	br_close(&fs->br[idx]);
	memmove(&fs->br[idx], &fs->br[idx + 1], (size_t)(fs->nbr - idx - 1) * sizeof(fs->br[0]));
	fs->nbr--;
	reresolve_all(fs, c);
	return 0;
}

static int
branch_mode(struct ufs_fs *fs, int idx, const char *mode, struct reply *r)
{
	if (idx < 0 || idx >= fs->nbr) {
		out(r, "no branch %d (0..%d)\n", idx, fs->nbr - 1);
		return -ENOENT;
	}
	fs->br[idx].rw = !strcasecmp(mode, "rw");
	out(r, "branch %d is now %s\n", idx, fs->br[idx].rw ? "rw" : "ro");
	return 0;
}

/* A whole decimal number, or -1. */
static int
number(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	return *end || v > INT_MAX ? -1 : (int)v;
}

static bool
mode_word(const char *s)
{
	return !strcasecmp(s, "rw") || !strcasecmp(s, "ro");
}

/* Run a branch change under the write lock, then notify the kernel. */
static int
change_branches(struct ufs_fs *fs, char **argv, int argc, struct reply *r)
{
	bool add = !strcmp(argv[0], "add") && argc == 4, remove = !strcmp(argv[0], "remove");
	int idx = argc > 1 ? number(argv[1]) : -1, err;
	struct ufs_branch nb;
	struct change c = { 0 };

	if (!(add && mode_word(argv[2])) && !(remove && (argc == 2 || (argc == 3 &&
	      !strcmp(argv[2], "force")))) && !(!strcmp(argv[0], "mode") && argc == 3 &&
	      mode_word(argv[2]))) {
		out(r, "usage: add AT rw|ro PATH | remove INDEX [force] | mode INDEX rw|ro\n");
		return -EINVAL;
	}
	if (idx < 0) {
		out(r, "bad number '%s'\n", argv[1]);
		return -EINVAL;
	}
	if (add && (err = branch_prepare(fs, !strcasecmp(argv[2], "rw"), argv[3], &nb, r)) != 0)
		return err;
	pthread_rwlock_wrlock(&fs->br_lock);
	if (add)
		err = branch_add(fs, idx, nb, r, &c);
	else if (remove)
		err = branch_remove(fs, idx, argc == 3, r, &c);
	else
		err = branch_mode(fs, idx, argv[2], r);
	pthread_rwlock_unlock(&fs->br_lock);
	ufs_dir_forget_all(fs);
	if (add && !err)
		inval_new_names(fs, idx, &c);
	if (c.nodes)
		send_invalidations(fs, &c);
	return err;
}

/* ---- the command dispatcher ---- */

static int
split(char *line, char **argv, int max)
{
	int argc = 0;
	char *p = line;

	while (*p && argc < max) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		argv[argc++] = p;
		/* The last argument of "add" is a path and may hold spaces. */
		if (argc == 4 && !strcmp(argv[0], "add"))
			break;
		p = strchrnul(p, ' ');
		if (*p)
			*p++ = '\0';
	}
	return argc;
}

static bool
may_change(struct ufs_fs *fs, fuse_req_t req)
{
	uid_t uid = fuse_req_ctx(req)->uid;

	return uid == 0 || uid == fs->owner;
}

static int
dispatch(struct ufs_fs *fs, fuse_req_t req, char *line, struct reply *r)
{
	char *argv[5];
	int argc = split(line, argv, 5);
	bool json = argc == 2 && !strcmp(argv[1], "json");

	if (argc == 0) {
		out(r, "empty command\n");
		return -EINVAL;
	}
	if (!strcmp(argv[0], "branches") || !strcmp(argv[0], "stats")) {
		pthread_rwlock_rdlock(&fs->br_lock);
		if (argv[0][0] == 'b')
			show_branches(fs, r, json);
		else
			show_stats(fs, r, json);
		pthread_rwlock_unlock(&fs->br_lock);
		return 0;
	}
	if (!may_change(fs, req)) {
		out(r, "only root or the user who mounted may do that\n");
		return -EPERM;
	}
	if (!strcmp(argv[0], "debug") && argc == 2 &&
	    (!strcmp(argv[1], "on") || !strcmp(argv[1], "off"))) {
		ufs_log_set_debug(!strcmp(argv[1], "on"));
		out(r, "debug output %s\n", argv[1]);
		return 0;
	}
	if (!strcmp(argv[0], "debugfile") && argc == 2) {
		int err = ufs_log_set_file(argv[1]);

		out(r, err ? "cannot open %s: %s\n" : "debug output to %s%s\n", argv[1],
		    err ? strerror(-err) : "");
		return err;
	}
	return change_branches(fs, argv, argc, r);
}

void
ufs_ctl(struct ufs_fs *fs, fuse_req_t req, const char *cmd, size_t len, char *buf, size_t size)
{
	char line[UFS_CTL_SIZE];
	char body[UFS_CTL_SIZE - 16];
	struct reply r = { body, sizeof(body), 0 };
	int err;

	len = strnlen(cmd, len < sizeof(line) - 1 ? len : sizeof(line) - 1);
	memcpy(line, cmd, len);
	line[len] = '\0';
	line[strcspn(line, "\n")] = '\0';
	body[0] = '\0';
	err = dispatch(fs, req, line, &r);
	snprintf(buf, size, "%d\n%s", -err, body);
}

/* ---- user.unionfs.* xattrs ---- */

/* Value of a virtual xattr into buf; returns its length or -errno. */
ssize_t
ufs_ctl_xattr(struct ufs_fs *fs, struct ufs_node *n, const char *name, char *buf, size_t size)
{
	struct reply r = { buf, size, 0 };
	int top = ufs_node_branch(n);
	struct stat st;

	if (top < 0)
		return -ENOENT;
	if (!strcmp(name, UFS_XATTR_BRANCH)) {
		out(&r, "%s", fs->br[top].path);
	} else if (n->parent) {
		struct ufs_loc loc;

		if (ufs_loc_get(fs, n, top, &loc) != 0)
			return -ENOENT;
		for (int b = top + 1; b < fs->nbr; b++) {
			int pfd = ufs_node_dfd(loc.parent, b);

			if (pfd >= 0 && fstatat(pfd, loc.name, &st, AT_SYMLINK_NOFOLLOW) == 0)
				out(&r, "%s%s", r.len ? "\n" : "", fs->br[b].path);
		}
		ufs_loc_put(fs, &loc);
	}
	return r.len < size - 1 ? (ssize_t)r.len : -ERANGE;
}

bool
ufs_ctl_is_xattr(const char *name)
{
	return !strcmp(name, UFS_XATTR_BRANCH) || !strcmp(name, UFS_XATTR_HIDDEN);
}
