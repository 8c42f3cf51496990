/*
 * ops_dir.c - directory handles: open, read (plain and plus), release,
 * fsync.  The merged listing itself is built by readdir.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ufs.h"

static struct ufs_dir *
dir_of(struct fuse_file_info *fi)
{
	return (struct ufs_dir *)(uintptr_t)fi->fh;
}

static void
dir_release(struct ufs_fs *fs, struct ufs_handle *h)
{
	struct ufs_dir *d = (struct ufs_dir *)h;

	ufs_dir_clear(d);
	ufs_node_unref(fs, d->node);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static bool
dir_is_merged(struct ufs_fs *fs, struct ufs_node *n)
{
	int count = 0;

	for (int b = 0; b < fs->nbr; b++)
		count += ufs_node_dfd(n, b) >= 0;
	return count > 1;
}

void
ufs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_dir *d = calloc(1, sizeof(*d));

	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	d->node = ufs_node_get(fs, ino);
	pthread_mutex_init(&d->lock, NULL);
	ufs_node_ref(fs, d->node);
	ufs_handle_add(fs, &d->h, dir_release);
	fi->fh = (uintptr_t)d;
	/* The kernel keeps a listing while the directory's mtime stays the same
	 * (it checks when attributes expire); our own changes invalidate it.
	 * The mtime of a merged directory is only its top branch's, which
	 * does not see changes below: those are cached with cache=always, or
	 * when the branch watch (watch.c) reports changes. */
	fi->cache_readdir = fs->cfg.cache == UFS_CACHE_ALWAYS ||
			    (fs->cfg.cache == UFS_CACHE_AUTO &&
			     (fs->watch || !dir_is_merged(fs, d->node)));
	fi->keep_cache = fi->cache_readdir;
	fuse_reply_open(req, fi);
}

/* Add "." or ".." (index 0 or 1); returns the size used, 0 if full. */
static size_t
add_dot(fuse_req_t req, struct ufs_node *n, int idx, char *p, size_t rem, bool plus)
{
	struct ufs_node *target = idx == 0 || !n->parent ? n : n->parent;
	struct fuse_entry_param e = { .attr = { .st_ino = target->ino, .st_mode = S_IFDIR } };
	const char *name = idx == 0 ? "." : "..";

	if (plus)
		return fuse_add_direntry_plus(req, p, rem, name, &e, idx + 1);
	return fuse_add_direntry(req, p, rem, name, &e.attr, idx + 1);
}

/* Add merged entry i (offset i + 3); returns the size used, 0 if full,
 * or (size_t)-1 when the entry vanished and is skipped. */
static size_t
add_entry(fuse_req_t req, struct ufs_fs *fs, struct ufs_dir *d, size_t i, char *p, size_t rem,
	  bool plus)
{
	struct ufs_dirent *de = &d->ents[i];
	struct fuse_entry_param e = { .attr = { .st_ino = de->ino, .st_mode = (mode_t)de->type << 12 } };
	struct ufs_node *child = NULL;
	size_t len;

	if (!plus)
		return fuse_add_direntry(req, p, rem, de->name, &e.attr, (off_t)i + 3);
	if (ufs_fill_entry(fs, d->node, de->name, &e, &child) != 0)
		return (size_t)-1;
	len = fuse_add_direntry_plus(req, p, rem, de->name, &e, (off_t)i + 3);
	if (len > rem)
		ufs_node_forget(fs, child, 1);
	return len;
}

static void
do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi,
	   bool plus)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_dir *d = dir_of(fi);
	char *buf = malloc(size), *p = buf;
	size_t rem = size, len;
	int err = 0;

	(void)ino;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (off == 0)
		err = ufs_dir_load(fs, d->node, d);
	for (off_t i = off; !err && i < (off_t)d->n + 2; i++) {
		len = i < 2 ? add_dot(req, d->node, (int)i, p, rem, plus)
			    : add_entry(req, fs, d, (size_t)i - 2, p, rem, plus);
		if (len == (size_t)-1)
			continue;
		if (len > rem)
			break;
		p += len;
		rem -= len;
	}
	pthread_mutex_unlock(&d->lock);
	if (err && rem == size)
		fuse_reply_err(req, -err);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

void
ufs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void
ufs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void
ufs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ufs_dir *d = dir_of(fi);

	(void)ino;
	ufs_handle_del(ufs_fs(req), &d->h);
	dir_release(ufs_fs(req), &d->h);
	fuse_reply_err(req, 0);
}

void
ufs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_node *n = ufs_node_get(fs, ino);
	int fd = br_openat(ufs_node_dfd(n, ufs_node_branch(n)), ".", O_RDONLY | O_DIRECTORY, 0);
	int err = fd < 0 ? -fd : 0;

	(void)fi;
	if (fd >= 0) {
		if ((datasync ? fdatasync(fd) : fsync(fd)) < 0)
			err = errno;
		close(fd);
	}
	fuse_reply_err(req, err);
}
