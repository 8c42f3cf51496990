/*
 * ops_entry.c - lookup, forget, attributes, readlink, statfs, access, and
 * the session's init/destroy (where every caching decision is made).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ufs.h"

void
ufs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct ufs_fs *fs = userdata;
	unsigned int want = FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE |
			    FUSE_CAP_IOCTL_DIR | FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO |
			    FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_ASYNC_READ | FUSE_CAP_ASYNC_DIO;

	if (fs->cfg.cache != UFS_CACHE_NEVER)
		want |= FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_AUTO_INVAL_DATA;
	conn->want |= conn->capable & want;
	if (fs->conn_opts)
		fuse_apply_conn_info_opts(fs->conn_opts, conn);
	/* Locks are kept by the kernel for this mount (we are the only user
	 * of the branches), so flock and POSIX locks stay local. */
	conn->want &= ~(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
}

void
ufs_op_destroy(void *userdata)
{
	ufs_handles_release_all(userdata);
}

int
ufs_make_writable(struct ufs_fs *fs, struct ufs_node *n, bool data)
{
	int b = ufs_node_branch(n);

	if (b < 0)
		return -ENOENT;	/* its branch was removed */
	if (br_is_rw(fs, b))
		return 0;
	if (!fs->cfg.cow)
		return -EROFS;
	return cu_copyup(fs, n, -1, data);
}

int
ufs_fill_entry(struct ufs_fs *fs, struct ufs_node *parent, const char *name,
	       struct fuse_entry_param *e, struct ufs_node **out)
{
	struct ufs_lookup lk;
	struct ufs_node *n;
	int err;

	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	err = ufs_resolve(fs, parent, name, &lk);
	if (err)
		return err;
	n = ufs_node_lookup(fs, parent, name, &lk);
	UFS_STAT_ADD(fs->br[lk.branch].st.lookups, 1);
	memset(e, 0, sizeof(*e));
	e->attr = lk.st;
	ufs_lookup_release(fs, &lk);
	if (!n)
		return -ENOMEM;
	ufs_fill_stat(fs, n, &e->attr);
	e->ino = (fuse_ino_t)(uintptr_t)n;
	e->attr_timeout = fs->attr_timeout;
	e->entry_timeout = fs->entry_timeout;
	if (out)
		*out = n;
	return 0;
}

void
ufs_reply_entry(fuse_req_t req, struct ufs_fs *fs, struct ufs_node *parent, const char *name,
		int err)
{
	struct fuse_entry_param e;

	if (!err)
		err = ufs_fill_entry(fs, parent, name, &e, NULL);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_entry(req, &e);
}

void
ufs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct fuse_entry_param e;
	int err = ufs_fill_entry(fs, ufs_node_get(fs, parent), name, &e, NULL);

	if (err == -ENOENT && fs->cfg.negative_timeout != 0 && fs->entry_timeout > 0) {
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->cfg.negative_timeout > 0 ? fs->cfg.negative_timeout
							       : fs->entry_timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_entry(req, &e);
}

void
ufs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct ufs_fs *fs = ufs_fs(req);

	if (ino != FUSE_ROOT_ID)
		ufs_node_forget(fs, ufs_node_get(fs, ino), nlookup);
	fuse_reply_none(req);
}

void
ufs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct ufs_fs *fs = ufs_fs(req);

	for (size_t i = 0; i < count; i++)
		if (forgets[i].ino != FUSE_ROOT_ID)
			ufs_node_forget(fs, ufs_node_get(fs, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void
reply_attr(fuse_req_t req, struct ufs_fs *fs, struct ufs_node *n, struct fuse_file_info *fi)
{
	struct stat st;
	int err;

	if (fi && fi->fh && !S_ISDIR(n->mode)) {
		struct ufs_file *f = (struct ufs_file *)(uintptr_t)fi->fh;

		err = fstat(ufs_file_fd(fs, f), &st) < 0 ? -errno : 0;
		if (!err)
			ufs_fill_stat(fs, n, &st);
	} else {
		err = ufs_node_stat(fs, n, &st);
	}
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, fs->attr_timeout);
}

void
ufs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ufs_fs *fs = ufs_fs(req);

	reply_attr(req, fs, ufs_node_get(fs, ino), fi);
}

static int
set_size(struct ufs_fs *fs, struct ufs_loc *loc, off_t size, struct fuse_file_info *fi)
{
	int fd, err = 0;

	if (fi && fi->fh)
		return ftruncate(ufs_file_fd(fs, (struct ufs_file *)(uintptr_t)fi->fh), size) < 0
			       ? -errno : 0;
	fd = br_openat(loc->dirfd, loc->name, O_WRONLY, 0);
	if (fd < 0)
		return fd;
	if (ftruncate(fd, size) < 0)
		err = -errno;
	close(fd);
	return err;
}

static int
set_times(struct ufs_loc *loc, const struct stat *attr, int to_set)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };

	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		ts[0] = attr->st_atim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		ts[1] = attr->st_mtim;
	return utimensat(loc->dirfd, loc->name, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* Does the calling process hold CAP_FSETID?  Asked only when a set-id bit
 * is at stake; not knowing (no pid, a process already gone) counts as no. */
static bool
caller_has_fsetid(fuse_req_t req)
{
	pid_t pid = fuse_req_ctx(req)->pid;
	unsigned long long caps = 0;
	char path[32], line[128];
	bool found = false;
	FILE *f;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %llx", &caps) == 1;
	fclose(f);
	return found && (caps & (1ULL << 4)) != 0;	/* CAP_FSETID */
}

/*
 * We negotiate FUSE_HANDLE_KILLPRIV_V2 (passthrough.c), so dropping the
 * set-user-ID bit, and the set-group-ID bit of a group-executable file, is
 * ours.  The kernel asks for it with KILL_SUID on a truncate by a caller
 * without CAP_FSETID, and with a setattr that sets nothing from
 * file_remove_privs before a write.  The latter also comes when only
 * security.capability had to go (the kernel removes that itself), so
 * there the caller's CAP_FSETID decides, as it does on a local filesystem.
 */
static int
kill_setid(fuse_req_t req, struct ufs_loc *loc, bool ask)
{
	struct stat st;
	mode_t mode;

	if (fstatat(loc->dirfd, loc->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	mode = st.st_mode & 07777;
	if (!S_ISREG(st.st_mode))
		return 0;
	mode &= ~(mode_t)S_ISUID;
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		mode &= ~(mode_t)S_ISGID;
	if (mode == (st.st_mode & 07777) || (ask && caller_has_fsetid(req)))
		return 0;
	return fchmodat(loc->dirfd, loc->name, mode, 0) < 0 ? -errno : 0;
}

/* Apply the attribute changes to the node's (writable) object. */
static int
apply_attrs(fuse_req_t req, struct ufs_fs *fs, struct ufs_node *n, const struct stat *attr,
	    int to_set, struct fuse_file_info *fi)
{
	struct ufs_loc loc;
	int err = ufs_loc_get(fs, n, ufs_node_branch(n), &loc);

	if (err)
		return err;
	if (to_set == 0 || to_set & (FUSE_SET_ATTR_KILL_SUID | FUSE_SET_ATTR_KILL_SGID))
		err = kill_setid(req, &loc, to_set == 0);
	if (!err && to_set & FUSE_SET_ATTR_MODE && fchmodat(loc.dirfd, loc.name, attr->st_mode & 07777, 0))
		err = -errno;
	if (!err && to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1;
		gid_t gid = to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1;

		if (fchownat(loc.dirfd, loc.name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			err = -errno;
	}
	if (!err && to_set & FUSE_SET_ATTR_SIZE)
		err = set_size(fs, &loc, attr->st_size, fi);
	if (!err && to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))
		err = set_times(&loc, attr, to_set);
	ufs_loc_put(fs, &loc);
	return err;
}

void
ufs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
	       struct fuse_file_info *fi)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_node *n = ufs_node_get(fs, ino);
	bool truncating = to_set & FUSE_SET_ATTR_SIZE && attr->st_size == 0;
	int err = ufs_make_writable(fs, n, !truncating);

	if (!err)
		err = apply_attrs(req, fs, n, attr, to_set, fi);
	if (err)
		fuse_reply_err(req, -err);
	else
		reply_attr(req, fs, n, fi);
}

void
ufs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_node *n = ufs_node_get(fs, ino);
	char buf[PATH_MAX + 1];
	struct ufs_loc loc;
	ssize_t len;
	int err = ufs_loc_get(fs, n, ufs_node_branch(n), &loc);

	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	len = readlinkat(loc.dirfd, loc.name, buf, sizeof(buf) - 1);
	err = len < 0 ? errno : 0;
	ufs_loc_put(fs, &loc);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	buf[len] = '\0';
	fuse_reply_readlink(req, buf);
}

/* Sum the filesystems under the branches, each device counted once. */
void
ufs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct statvfs out = { 0 }, sv;
	dev_t seen[UFS_MAX_BRANCHES];
	int nseen = 0;

	(void)ino;
	for (int b = 0; b < fs->nbr; b++) {
		bool dup = false;

		if (fs->cfg.statfs_omit_ro && !fs->br[b].rw)
			continue;
		for (int i = 0; i < nseen; i++)
			dup |= seen[i] == fs->br[b].dev;
		if (dup || fstatvfs(fs->br[b].fd, &sv) < 0)
			continue;
		seen[nseen++] = fs->br[b].dev;
		if (!out.f_bsize) {
			out = sv;
			continue;
		}
		/* Scale to the first filesystem's block size. */
		out.f_blocks += sv.f_blocks * sv.f_frsize / out.f_frsize;
		out.f_bfree += sv.f_bfree * sv.f_frsize / out.f_frsize;
		out.f_bavail += sv.f_bavail * sv.f_frsize / out.f_frsize;
		out.f_files += sv.f_files;
		out.f_ffree += sv.f_ffree;
		out.f_favail += sv.f_favail;
		if (sv.f_namemax < out.f_namemax)
			out.f_namemax = sv.f_namemax;
	}
	out.f_fsid = 0;
	out.f_flag = 0;
	fuse_reply_statfs(req, &out);
}

void
ufs_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_node *n = ufs_node_get(fs, ino);

	if (mask & W_OK && !fs->cfg.cow && !br_is_rw(fs, ufs_node_branch(n)))
		fuse_reply_err(req, EROFS);
	else
		fuse_reply_err(req, 0);
}
