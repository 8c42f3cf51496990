/*
 * ops_dir.c - directories: open, read (plain and plus), release, fsync.
 * The merged listing itself is built and cached by readdir.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ufs.h"

static bool
dir_is_merged(struct ufs_fs *fs, struct ufs_node *n)
{
	int count = 0;

	for (int b = 0; b < fs->nbr; b++)
		count += ufs_node_dfd(n, b) >= 0;
	return count > 1;
}

/* Listings are found by node (readdir.c); a directory handle only holds
 * its node.  Where the kernel may cache every listing until we say it
 * changed (cache=always, or cache=auto with the branch watch), OPENDIR
 * answers ENOSYS: the kernel then stops sending OPENDIR and RELEASEDIR
 * for good and keeps listings across opens, as with cache_readdir. */
void
ufs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_node *n = ufs_node_get(fs, ino);

	if (fs->cfg.cache == UFS_CACHE_ALWAYS || (fs->cfg.cache == UFS_CACHE_AUTO && fs->watch)) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	/* The kernel keeps a listing while the directory's mtime stays the same
	 * (it checks when attributes expire); our own changes invalidate it.
	 * The mtime of a merged directory is only its top branch's, which
	 * does not see changes below, so only single-branch ones are cached. */
	ufs_node_ref(fs, n);	/* until RELEASEDIR, which may come after FORGET */
	fi->fh = (uintptr_t)n;
	fi->cache_readdir = fs->cfg.cache == UFS_CACHE_AUTO && !dir_is_merged(fs, n);
	fi->keep_cache = fi->cache_readdir;
	fuse_reply_open(req, fi);
}

/* Add "." (offset 0, next 1) or ".." (offset 1, next 2); returns the size
 * used, more than rem if it did not fit. */
static size_t
add_dot(fuse_req_t req, struct ufs_fs *fs, struct ufs_node *n, int idx, char *p, size_t rem,
	bool plus)
{
	struct ufs_node *parent = idx == 0 ? NULL : ufs_node_parent(fs, n);
	struct fuse_entry_param e = { .attr = { .st_ino = (parent ? parent : n)->ino,
						.st_mode = S_IFDIR } };
	const char *name = idx == 0 ? "." : "..";

	if (parent)
		ufs_node_unref(fs, parent);
	if (plus)
		return fuse_add_direntry_plus(req, p, rem, name, &e, idx + 1);
	return fuse_add_direntry(req, p, rem, name, &e.attr, idx + 1);
}

/* Add entry i; returns the size used, more than rem if it did not fit, or
 * (size_t)-1 when the entry vanished and is skipped. */
static size_t
add_entry(fuse_req_t req, struct ufs_fs *fs, struct ufs_dir *d, size_t i, char *p, size_t rem,
	  bool plus)
{
	struct ufs_dirent *de = &d->ents[i];
	const char *name = ufs_dirent_name(d, i);
	struct fuse_entry_param e = { .attr = { .st_ino = de->ino, .st_mode = (mode_t)de->type << 12 } };
	struct ufs_node *child = NULL;
	size_t len;

	if (!plus)
		return fuse_add_direntry(req, p, rem, name, &e.attr, (off_t)de->off);
	if (ufs_fill_entry(fs, d->node, name, &e, &child) != 0)
		return (size_t)-1;
	len = fuse_add_direntry_plus(req, p, rem, name, &e, (off_t)de->off);
	if (len > rem)
		ufs_node_forget(fs, child, 1);
	return len;
}

static void
do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_node *n = ufs_node_get(fs, ino);
	char *buf = malloc(size), *p = buf;
	size_t rem = size, len, i;
	struct ufs_dir *d;
	int err = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	d = ufs_dir_get(fs, n, off == 0, &err);
	if (!d) {
		fuse_reply_err(req, -err);
		free(buf);
		return;
	}
	for (off_t dot = off; dot >= 0 && dot < 2; dot++) {
		len = add_dot(req, fs, n, (int)dot, p, rem, plus);
		if (len > rem)
			goto full;
		p += len;
		rem -= len;
	}
	for (i = ufs_dir_seek(d, (uint64_t)off); i < d->n; i++) {
		len = add_entry(req, fs, d, i, p, rem, plus);
		if (len == (size_t)-1)
			continue;
		if (len > rem)
			break;
		p += len;
		rem -= len;
	}
	/* The kernel reads until a read comes back empty. */
	if (rem == size)
		ufs_dir_done(fs, d);
full:
	ufs_dir_put(d);
	fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

void
ufs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

void
ufs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

void
ufs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_node *n = (struct ufs_node *)(uintptr_t)fi->fh;

	/* A reader still going builds the listing again (offsets stay valid). */
	(void)ino;
	ufs_dir_forget(fs, n);
	ufs_node_unref(fs, n);
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
