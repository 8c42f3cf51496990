/*
 * ops_xattr.c - extended attributes.  Reads go to the object's top copy;
 * changes copy the object up first.  Calls go through /proc/self/fd/N of
 * an O_PATH fd, which works for every file type without following a
 * symlink at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ufs.h"

/* Open the node's object as O_PATH and give its /proc path. */
static int
xattr_open(struct ufs_fs *fs, struct ufs_node *n, char *proc, size_t size)
{
	struct ufs_loc loc;
	int fd, err = ufs_loc_get(fs, n, ufs_node_branch(n), &loc);

	if (err)
		return err;
	fd = br_openat(loc.dirfd, loc.name, O_PATH, 0);
	ufs_loc_put(fs, &loc);
	if (fd >= 0)
		br_fd_path(fd, proc, size);
	return fd;
}

/* getxattr and listxattr share the size-probe protocol of FUSE. */
static void
reply_sized(fuse_req_t req, char *buf, ssize_t len, size_t size)
{
	if (len < 0)
		fuse_reply_err(req, errno);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else
		fuse_reply_buf(req, buf, (size_t)len);
}

/* Drop our internal (overlay marker) xattr names from a list in place. */
static ssize_t
filter_list(char *buf, ssize_t len)
{
	char *out = buf;

	for (char *p = buf; p < buf + len;) {
		size_t l = strlen(p) + 1;

		if (!wo_is_internal_xattr(p)) {
			memmove(out, p, l);
			out += l;
		}
		p += l;
	}
	return out - buf;
}

static void
reply_virtual(fuse_req_t req, struct ufs_fs *fs, struct ufs_node *n, const char *name,
	      size_t size)
{
	char buf[UFS_MAX_BRANCHES * 256];
	ssize_t len = ufs_ctl_xattr(fs, n, name, buf, sizeof(buf));

	if (len < 0)
		fuse_reply_err(req, (int)-len);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else if ((size_t)len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, (size_t)len);
}

void
ufs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct ufs_fs *fs = ufs_fs(req);
	char proc[64], *buf = size ? malloc(size) : NULL;
	int fd = xattr_open(fs, ufs_node_get(fs, ino), proc, sizeof(proc));
	ssize_t len;

	if (ufs_ctl_is_xattr(name)) {
		reply_virtual(req, fs, ufs_node_get(fs, ino), name, size);
	} else if (fd < 0 || (size && !buf)) {
		fuse_reply_err(req, fd < 0 ? -fd : ENOMEM);
	} else if (wo_is_internal_xattr(name)) {
		fuse_reply_err(req, ENODATA);
	} else {
		len = getxattr(proc, name, buf, size);
		reply_sized(req, buf, len, size);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
}

/* listxattr without the internal names; with size 0, the size needed. */
static ssize_t
list_visible(const char *proc, char *buf, size_t size)
{
	ssize_t len = listxattr(proc, NULL, 0);
	char *all;

	if (len <= 0)
		return len;
	all = malloc((size_t)len);
	if (!all) {
		errno = ENOMEM;
		return -1;
	}
	len = listxattr(proc, all, (size_t)len);
	if (len > 0)
		len = filter_list(all, len);
	if (len > 0 && size) {
		if ((size_t)len > size) {
			errno = ERANGE;
			len = -1;
		} else {
			memcpy(buf, all, (size_t)len);
		}
	}
	free(all);
	return len;
}

void
ufs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct ufs_fs *fs = ufs_fs(req);
	char proc[64], *buf = size ? malloc(size) : NULL;
	int fd = xattr_open(fs, ufs_node_get(fs, ino), proc, sizeof(proc));
	ssize_t len;

	if (fd < 0 || (size && !buf)) {
		fuse_reply_err(req, fd < 0 ? -fd : ENOMEM);
	} else {
		len = list_visible(proc, buf, size);
		reply_sized(req, buf, len, size);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
}

static void
change_xattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
	     int flags, bool remove)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_node *n = ufs_node_get(fs, ino);
	int err = wo_is_internal_xattr(name) || ufs_ctl_is_xattr(name) ? -EPERM
									 : ufs_make_writable(fs, n, true);
	int fd = -1;
	char proc[64];

	if (!err)
		err = fd = xattr_open(fs, n, proc, sizeof(proc));
	if (fd >= 0) {
		int r = remove ? removexattr(proc, name) : setxattr(proc, name, value, size, flags);

		err = r < 0 ? -errno : 0;
		close(fd);
	}
	fuse_reply_err(req, -err);
}

void
ufs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		size_t size, int flags)
{
	change_xattr(req, ino, name, value, size, flags, false);
}

void
ufs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	change_xattr(req, ino, name, NULL, 0, 0, true);
}
