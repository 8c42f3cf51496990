/*
 * ops_namespace.c - operations that change names: mknod, mkdir, symlink,
 * link, create, unlink, rmdir, rename.
 *
 * Placement: a new name goes into the branch holding its parent directory
 * if that branch is RW, else (with cow) into the nearest RW branch above
 * it, after the parent chain has been copied up there (unionfs-fuse).
 * Deletion of a name that still exists below leaves a whiteout; the
 * whiteout is written first, so a failure never re-exposes a lower file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ufs.h"

/* The branch where a new entry of `parent` goes: the parent's top branch
 * if RW, else the nearest RW branch above it, else (a read-only branch
 * over a writable one) the nearest RW branch below it.  Parents are made
 * there first. */
static int
placement(struct ufs_fs *fs, struct ufs_node *parent)
{
	int pb = ufs_node_branch(parent), t;

	if (pb < 0)
		return -ENOENT;
	if (br_is_rw(fs, pb))
		return pb;
	if (!fs->cfg.cow)
		return -EROFS;
	t = cu_target_branch(fs, pb);
	for (int b = pb + 1; t < 0 && b < fs->nbr; b++)
		if (br_is_rw(fs, b))
			t = b;
	return t < 0 ? -EROFS : t;
}

static int
create_branch(struct ufs_fs *fs, struct ufs_node *parent)
{
	int t = placement(fs, parent), err;

	if (t < 0)
		return t;
	err = cu_dir_in_branch(fs, parent, t);
	return err ? err : t;
}

/*
 * The branch where a hard link to n goes into p2: the object's own branch
 * when it is writable and at or above p2's placement (p2 is made there),
 * else p2's placement, with the object copied up to it.
 */
static int
link_branch(struct ufs_fs *fs, struct ufs_node *n, struct ufs_node *p2)
{
	int ob = ufs_node_branch(n), t = placement(fs, p2), err;

	if (t < 0)
		return t;
	if (br_is_rw(fs, ob) && ob <= t)
		t = ob;
	else if (ob < t)
		return -EXDEV;	/* a read-only object above every writable place */
	else if (!fs->cfg.cow)
		return -EROFS;
	err = cu_dir_in_branch(fs, p2, t);
	if (!err && ufs_node_branch(n) != t)
		err = cu_copyup(fs, n, t, true);
	if (!err && ufs_node_branch(n) != t)
		err = -EXDEV;
	return err ? err : t;
}

static bool
has_lower(struct ufs_fs *fs, struct ufs_node *parent, int t)
{
	for (int b = t + 1; b < fs->nbr; b++)
		if (ufs_node_dfd(parent, b) >= 0)
			return true;
	return false;
}

/* Kinds of object the generic create below can make. */
struct newobj {
	mode_t mode;
	dev_t rdev;
	const char *link;	/* symlink target */
	int oflags;		/* create: open flags */
	int fd;			/* create: the opened file */
};

static int
make_object(struct ufs_fs *fs, fuse_req_t req, int dirfd, const char *name, struct newobj *o)
{
	struct ufs_cred cred;
	int err = 0;

	ufs_cred_enter(fs, req, &cred);
	if (o->link) {
		err = symlinkat(o->link, dirfd, name);
	} else if (S_ISDIR(o->mode)) {
		err = mkdirat(dirfd, name, o->mode & 07777);
	} else if (S_ISREG(o->mode) && o->oflags >= 0) {
		o->fd = openat(dirfd, name, (o->oflags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC) &
					     ~O_DIRECT, o->mode & 07777);
		err = o->fd < 0 ? -1 : 0;
	} else {
		err = mknodat(dirfd, name, o->mode, o->rdev);
	}
	err = err < 0 ? -errno : 0;
	ufs_cred_leave(&cred);
	return err;
}

/*
 * Create parent/name in its placement branch.  A unionfs-format whiteout
 * there is kept for a directory (it makes the new directory opaque) and
 * removed after a non-directory was created (the new object hides the
 * lower one anyway).  An overlay-format whiteout occupies the name itself:
 * the object is made under a temporary name and moved over it in one step.
 */
static int
create_in_union(struct ufs_fs *fs, fuse_req_t req, struct ufs_node *parent, const char *name,
		struct newobj *o, int *branch)
{
	int t = create_branch(fs, parent), err;
	bool lower, marked;
	char tmp[64];

	if (t < 0)
		return t;
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	*branch = t;
	lower = has_lower(fs, parent, t);
	marked = lower && wo_exists(fs, parent, t, name);
	if (lower && wo_occupies(fs, parent, t, name)) {
		wo_tmpname(fs, tmp, sizeof(tmp));
		err = make_object(fs, req, ufs_node_dfd(parent, t), tmp, o);
		if (!err)
			err = wo_install(fs, parent, t, tmp, name, S_ISDIR(o->mode));
		if (err && o->fd >= 0) {
			close(o->fd);
			o->fd = -1;
		}
		if (err)
			br_rmtree_at(ufs_node_dfd(parent, t), tmp);
		return err;
	}
	err = make_object(fs, req, ufs_node_dfd(parent, t), name, o);
	if (!err && marked && !S_ISDIR(o->mode))
		wo_remove(fs, parent, t, name);
	return err;
}

static void
mknod_common(fuse_req_t req, fuse_ino_t parent, const char *name, struct newobj *o)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_node *p = ufs_node_get(fs, parent);
	int b, err = create_in_union(fs, req, p, name, o, &b);

	ufs_reply_entry(req, fs, p, name, err);
}

void
ufs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct newobj o = { .mode = mode, .rdev = rdev, .oflags = -1, .fd = -1 };

	mknod_common(req, parent, name, &o);
}

void
ufs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct newobj o = { .mode = S_IFDIR | mode, .oflags = -1, .fd = -1 };

	mknod_common(req, parent, name, &o);
}

void
ufs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct newobj o = { .mode = S_IFLNK | 0777, .link = link, .oflags = -1, .fd = -1 };

	mknod_common(req, parent, name, &o);
}

void
ufs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	      struct fuse_file_info *fi)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_node *p = ufs_node_get(fs, parent), *n = NULL;
	struct newobj o = { .mode = S_IFREG | mode, .oflags = fi->flags, .fd = -1 };
	struct fuse_entry_param e;
	struct ufs_file *f;
	int b, err = create_in_union(fs, req, p, name, &o, &b);

	if (!err)
		err = ufs_fill_entry(fs, p, name, &e, &n);
	if (!err && !(f = ufs_file_new(fs, n, o.fd, b, fi->flags)))
		err = -ENOMEM;
	if (!err && (err = pt_open(fs, f)) < 0) {
		ufs_file_drop(fs, f);
		o.fd = -1;
	}
	if (err) {
		if (o.fd >= 0)
			close(o.fd);
		if (n)
			ufs_node_forget(fs, n, 1);
		fuse_reply_err(req, -err);
		return;
	}
	ufs_file_info(fs, fi, f);
	/* An interrupted create gets no RELEASE (nor FORGET). */
	if (pt_reply_create(req, &e, fi, f) == -ENOENT) {
		ufs_file_drop(fs, f);
		ufs_node_forget(fs, n, 1);
	}
}

/* Link loc's object as p2/newname in branch t, over a whiteout there. */
static int
link_in(struct ufs_fs *fs, struct ufs_loc *loc, struct ufs_node *p2, int t, const char *newname)
{
	int pfd = ufs_node_dfd(p2, t);
	bool lower = has_lower(fs, p2, t);
	char tmp[64];

	if (lower && wo_occupies(fs, p2, t, newname)) {
		wo_tmpname(fs, tmp, sizeof(tmp));
		if (linkat(loc->dirfd, loc->name, pfd, tmp, 0) < 0)
			return -errno;
		if (renameat(pfd, tmp, pfd, newname) < 0) {
			int err = -errno;

			unlinkat(pfd, tmp, 0);
			return err;
		}
		return 0;
	}
	if (linkat(loc->dirfd, loc->name, pfd, newname, 0) < 0)
		return -errno;
	if (lower && wo_exists(fs, p2, t, newname))
		wo_remove(fs, p2, t, newname);
	return 0;
}

void
ufs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_node *n = ufs_node_get(fs, ino), *p2 = ufs_node_get(fs, newparent);
	int t = link_branch(fs, n, p2), err = t < 0 ? t : 0;
	struct ufs_loc loc;

	if (!err)
		err = ufs_loc_get(fs, n, t, &loc);
	if (!err) {
		err = link_in(fs, &loc, p2, t, newname);
		ufs_loc_put(fs, &loc);
	}
	ufs_reply_entry(req, fs, p2, newname, err);
}

/*
 * Remove parent/name as found at branch lk->branch.  Returns 0 or -errno.
 * A whiteout is made where a lower copy would otherwise show through.
 */
static int
remove_name(struct ufs_fs *fs, struct ufs_node *parent, const char *name,
	    const struct ufs_lookup *lk, bool dir)
{
	int b = lk->branch, t, err;

	if (!br_is_rw(fs, b)) {
		if (!fs->cfg.cow)
			return -EROFS;
		t = cu_target_branch(fs, b);
		return t < 0 ? t : wo_hide(fs, parent, t, name, dir);
	}
	if (dir)
		wo_purge_dir(fs, parent, b, name);
	if (lk->lower)
		return wo_replace(fs, parent, b, name, dir);
	err = unlinkat(ufs_node_dfd(parent, b), name, dir ? AT_REMOVEDIR : 0) < 0 ? -errno : 0;
	if (!err && dir)
		wo_remove_subtree(fs, parent, b, name);
	return err;
}


/* Is the directory parent/name (resolved in lk) empty in the union? */
static int
dir_is_empty(struct ufs_fs *fs, struct ufs_node *parent, const char *name, struct ufs_lookup *lk)
{
	struct ufs_lookup copy = *lk;
	struct ufs_node *n;
	int err;

	/* The node takes the fds; resolve again to keep lk intact. */
	err = ufs_resolve(fs, parent, name, &copy);
	if (err)
		return err;
	n = ufs_node_lookup(fs, parent, name, &copy);
	ufs_lookup_release(fs, &copy);
	if (!n)
		return -ENOMEM;
	err = ufs_dir_empty(fs, n);
	ufs_node_forget(fs, n, 1);
	return err;
}

/* unlink (dir = false) and rmdir (dir = true). */
static void
remove_op(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct ufs_node *p = ufs_node_get(fs, parent);
	struct ufs_lookup lk;
	int err = ufs_resolve_below(fs, p, name, -1, &lk);

	if (!err && !S_ISDIR(lk.st.st_mode) != !dir)
		err = dir ? -ENOTDIR : -EISDIR;
	if (!err && dir)
		err = dir_is_empty(fs, p, name, &lk);
	if (!err)
		err = remove_name(fs, p, name, &lk, dir);
	if (!err)
		ufs_node_name_gone(fs, p, name, &lk.st);
	ufs_lookup_release(fs, &lk);
	fuse_reply_err(req, -err);
}

void
ufs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_op(req, parent, name, false);
}

void
ufs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_op(req, parent, name, true);
}

/* ---- rename ---- */

struct rename_op {
	struct ufs_node *p1, *p2, *src, *dst;
	const char *name1, *name2;
	unsigned int flags;
	int d;			/* the RW branch the rename happens in */
	bool src_marker, dst_marker;	/* unionfs markers made by this rename */
	bool src_hide;			/* the source name needs hiding */
	bool swapped_whiteout;		/* overlay whiteout exchanged to the source */
};

static int
node_for(struct ufs_fs *fs, struct ufs_node *parent, const char *name, struct ufs_node **out)
{
	struct ufs_lookup lk;
	int err = ufs_resolve(fs, parent, name, &lk);

	*out = NULL;
	if (err)
		return err;
	*out = ufs_node_lookup(fs, parent, name, &lk);
	ufs_lookup_release(fs, &lk);
	return *out ? 0 : -ENOMEM;
}

/*
 * The branch to rename in: the nearest RW branch at or above the source,
 * the visible target and the target directory's top branch, so nothing
 * above the result can shadow it.  preserve_branch keeps the source's own
 * RW branch when the target directory already exists there.
 */
static int
rename_branch(struct ufs_fs *fs, struct rename_op *op)
{
	int sb = ufs_node_branch(op->src), m = sb;

	if (op->dst && ufs_node_branch(op->dst) < m)
		m = ufs_node_branch(op->dst);
	if (!(fs->cfg.preserve_branch && br_is_rw(fs, sb) && ufs_node_dfd(op->p2, sb) >= 0) &&
	    ufs_node_branch(op->p2) < m)
		m = ufs_node_branch(op->p2);
	m = br_first_rw_at_or_above(fs, m);
	if (m >= 0 && m != sb && !fs->cfg.cow)
		return -EROFS;
	return m;
}

static bool
dir_is_merged(struct ufs_fs *fs, struct ufs_node *n, int d)
{
	for (int b = 0; b < fs->nbr; b++)
		if (b != d && ufs_node_dfd(n, b) >= 0)
			return true;
	return ufs_node_dfd(n, d) < 0;
}

/* Bring one object entirely into branch d. */
static int
bring_to(struct ufs_fs *fs, struct ufs_node *n, int d)
{
	if (S_ISDIR(n->mode))
		return dir_is_merged(fs, n, d) ? cu_dir_complete(fs, n, d) : 0;
	return cu_copyup(fs, n, d, true);
}

/* Does a copy of parent/name exist below branch d? */
static bool
exists_below(struct ufs_fs *fs, struct ufs_node *parent, const char *name, int d)
{
	struct ufs_lookup lk;

	if (ufs_resolve_below(fs, parent, name, d, &lk) != 0)
		return false;
	ufs_lookup_release(fs, &lk);
	return true;
}

/*
 * Markers so that lower copies of both names stay hidden afterwards.  In
 * the unionfs format they are path markers made before the rename (removed
 * again if it fails).  In the overlay format the kernel leaves the source's
 * whiteout itself (RENAME_WHITEOUT), and directories carry their opacity
 * with them as an xattr.  Returns the renameat2() flags to use.
 */
static int
rename_markers(struct ufs_fs *fs, struct rename_op *op, unsigned int *kflags)
{
	bool exchange = op->flags & RENAME_EXCHANGE, ovl = fs->cfg.wo_overlay;
	bool src_hide = exists_below(fs, op->p1, op->name1, op->d) &&
			(!exchange || S_ISDIR(op->dst->mode));
	bool dst_opaque = S_ISDIR(op->src->mode) && exists_below(fs, op->p2, op->name2, op->d);
	int err = 0;

	*kflags = op->flags & (RENAME_EXCHANGE | RENAME_NOREPLACE);
	if (!op->dst && wo_occupies(fs, op->p2, op->d, op->name2)) {
		/* An overlay whiteout holds the target name: replace it. */
		*kflags &= ~RENAME_NOREPLACE;
		if (S_ISDIR(op->src->mode))
			*kflags |= RENAME_EXCHANGE;
		op->swapped_whiteout = S_ISDIR(op->src->mode);
	}
	if (src_hide && ovl && exchange)
		err = wo_set_opaque(fs, op->p2, op->d, op->name2);
	else if (src_hide && ovl && !op->swapped_whiteout)
		*kflags |= RENAME_WHITEOUT;
	else if (src_hide && !ovl && !wo_exists(fs, op->p1, op->d, op->name1)) {
		/* A file marker for a file moved away, a directory marker where a
		 * directory stands or stood. */
		err = wo_create(fs, op->p1, op->d, op->name1, S_ISDIR(op->src->mode) || exchange);
		op->src_marker = !err;
	}
	op->src_hide = src_hide;
	if (err || !dst_opaque)
		return err;
	if (ovl)
		return wo_set_opaque(fs, op->p1, op->d, op->name1);
	if (!wo_exists(fs, op->p2, op->d, op->name2)) {
		err = wo_create(fs, op->p2, op->d, op->name2, true);
		op->dst_marker = !err;
	}
	return err;
}

static int
rename_prepare(struct ufs_fs *fs, struct rename_op *op)
{
	int err;

	if (op->dst && op->flags & RENAME_NOREPLACE)
		return -EEXIST;
	if (!op->dst && op->flags & RENAME_EXCHANGE)
		return -ENOENT;
	if (op->dst && !(op->flags & RENAME_EXCHANGE) && S_ISDIR(op->dst->mode)) {
		if (!S_ISDIR(op->src->mode))
			return -EISDIR;
		err = ufs_dir_empty(fs, op->dst);
		if (err)
			return err;
	}
	op->d = rename_branch(fs, op);
	if (op->d < 0)
		return op->d;
	err = bring_to(fs, op->src, op->d);
	if (!err && op->dst && op->flags & RENAME_EXCHANGE)
		err = bring_to(fs, op->dst, op->d);
	if (!err)
		err = cu_dir_in_branch(fs, op->p1, op->d);
	if (!err)
		err = cu_dir_in_branch(fs, op->p2, op->d);
	return err;
}

/*
 * The target op->dst was replaced.  A copy of it left in a lower RW branch
 * would only be shadowed, and still count as a link of the file (the
 * rename replaced that name), so it goes, as unlink would remove it.  A
 * node known by that name moves to another of the file's names.
 */
static void
replaced(struct ufs_fs *fs, struct rename_op *op, int b)
{
	int dfd = ufs_node_dfd(op->p2, b);

	if (S_ISDIR(op->dst->mode))
		return;
	if (b > op->d && br_is_rw(fs, b) && dfd >= 0)
		unlinkat(dfd, op->name2, 0);
	ufs_node_replaced(fs, op->dst, op->p2, op->name2);
}

static int
rename_run(struct ufs_fs *fs, struct rename_op *op)
{
	unsigned int kflags = 0;
	int dst_branch = op->dst ? ufs_node_branch(op->dst) : -1;
	int err = rename_prepare(fs, op);

	if (!err)
		err = rename_markers(fs, op, &kflags);
	if (!err && renameat2(ufs_node_dfd(op->p1, op->d), op->name1, ufs_node_dfd(op->p2, op->d),
			      op->name2, kflags) < 0)
		err = -errno;
	if (err) {
		if (op->src_marker)
			wo_remove(fs, op->p1, op->d, op->name1);
		if (op->dst_marker)
			wo_remove(fs, op->p2, op->d, op->name2);
		return err;
	}
	/* The whiteout swapped to the source name stays only if needed. */
	if (op->swapped_whiteout && !op->src_hide)
		unlinkat(ufs_node_dfd(op->p1, op->d), op->name1, 0);
	if (S_ISDIR(op->src->mode))
		ufs_node_drop_lower(fs, op->src, op->d);
	ufs_node_moved(fs, op->src, op->p1, op->name1, op->p2, op->name2);
	if (op->dst && op->flags & RENAME_EXCHANGE) {
		if (S_ISDIR(op->dst->mode))
			ufs_node_drop_lower(fs, op->dst, op->d);
		ufs_node_moved(fs, op->dst, op->p2, op->name2, op->p1, op->name1);
	} else if (op->dst) {
		replaced(fs, op, dst_branch);
	}
	if (!S_ISDIR(op->src->mode) && has_lower(fs, op->p2, op->d) &&
	    wo_exists(fs, op->p2, op->d, op->name2))
		wo_remove(fs, op->p2, op->d, op->name2);
	return 0;
}

void
ufs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	      const char *newname, unsigned int flags)
{
	struct ufs_fs *fs = ufs_fs(req);
	struct rename_op op = {
		.p1 = ufs_node_get(fs, parent), .p2 = ufs_node_get(fs, newparent),
		.name1 = name, .name2 = newname, .flags = flags,
	};
	int err = 0;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		err = -EINVAL;
	if (!err && strlen(newname) > NAME_MAX)
		err = -ENAMETOOLONG;
	if (!err)
		err = node_for(fs, op.p1, name, &op.src);
	if (!err && node_for(fs, op.p2, newname, &op.dst) == 0 && op.dst == op.src) {
		/* Two names of one file: rename(2) does nothing. */
		ufs_node_forget(fs, op.dst, 1);
		ufs_node_forget(fs, op.src, 1);
		fuse_reply_err(req, 0);
		return;
	}
	if (!err)
		err = rename_run(fs, &op);
	if (op.dst)
		ufs_node_forget(fs, op.dst, 1);
	if (op.src)
		ufs_node_forget(fs, op.src, 1);
	fuse_reply_err(req, -err);
}
