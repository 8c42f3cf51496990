/*
 * ufs.h - the map of the union filesystem: mount-wide state, shared types
 * and the prototypes of every module, grouped by the file that defines them.
 *
 * Lock order: the copy-up stripe locks (copyup.c) before fs->table_lock.
 * table_lock is only held for short, syscall-free sections.  No lock is
 * held across fuse_reply_*().
 */
#ifndef UFS_H
#define UFS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "uthash.h"

#define UFS_MAX_BRANCHES 64
#define UFS_BRANCH_GONE (-2)	/* node's branch was just removed (ctl.c) */
#define UFS_META_DIR ".unionfs"
#define UFS_META_LEGACY ".unionfs-fuse"
#define UFS_HIDDEN_SUFFIX "_HIDDEN~"
#define UFS_WORK_DIR ".ufs-work"	/* inside UFS_META_DIR of a branch */
#define UFS_TMP_PREFIX ".ufs-tmp."	/* temporary names beside their target */

enum ufs_cache { UFS_CACHE_NEVER, UFS_CACHE_AUTO, UFS_CACHE_ALWAYS };

/* Immutable after option parsing. */
struct ufs_config {
	char *dirs;		/* branch specification "a=RW:b=RO" */
	char *mountpoint;
	char *chroot;
	char *debug_file;
	unsigned long max_files;
	unsigned int threads;
	int has_fsname, has_subtype;
	int cache;		/* enum ufs_cache */
	double entry_timeout, attr_timeout, negative_timeout;
	/* int, not bool: fuse_opt stores flags as int */
	int cow, hide_meta, statfs_omit_ro, preserve_branch;
	int relaxed_perms, direct_io, volatile_mode, noinitgroups;
	int foreground, debug, singlethread;
	int wo_overlay, userxattr;	/* whiteout=overlay, userxattr */
	int clone_fd;
	int no_passthrough;
	int no_uring;
	unsigned int max_idle_threads;
};

/* Per-branch counters (unionfsctl branches). */
struct ufs_brstats {
	_Atomic uint64_t lookups, bytes_read, bytes_written, copyups, whiteouts, errors;
};

/* One layer of the union.  fd keeps the branch pinned (no accidental
 * umount) and is the base of every *at() call on it. */
struct ufs_branch {
	char *path;		/* absolute, as opened */
	int fd;			/* O_PATH|O_DIRECTORY root */
	bool rw;
	dev_t dev;
	_Atomic int metafd;	/* O_PATH .unionfs/, -1 until it exists */
	int legacyfd;		/* O_PATH .unionfs-fuse/, -1 when absent */
	struct ufs_linkent *links;	/* links.c, under fs->dir_lock */
	bool links_built;
	_Atomic bool no_reflink;	/* FICLONE refused: EOPNOTSUPP */
	struct ufs_brstats st;
};

/*
 * A node is one object the kernel knows (one FUSE inode id).  Regular files
 * and other non-directories hold no fd: they are reached as
 * (parent->dfd[branch], name).  Directories hold one O_PATH fd per branch in
 * which they exist and are visible (dfd[i] == -1 elsewhere).
 * parent, name, aliases, nlookup and refs are protected by fs->table_lock; branch
 * and dfd[] entries are written under table_lock and read atomically.  A
 * dfd[] entry only ever goes from -1 to an fd while the node lives, so a
 * reader never sees an fd closed under it.
 */
struct ufs_node {
	struct ufs_node *hnext;	/* fs->ntab bucket chain, keyed by key[] */
	uint64_t key[2];	/* st_dev, st_ino of the object in `branch` */
	uint64_t ino;		/* st_ino reported to users (stable) */
	struct ufs_node *parent;	/* holds a ref; NULL for root */
	char *name;
	uint64_t nlookup;
	uint32_t refs;		/* children + open handles + in-flight */
	int16_t branch;		/* highest-priority branch holding it */
	uint16_t mode;		/* S_IFMT bits */
	int *dfd;		/* directories only: [nbranches] */
	struct ufs_alias *aliases;	/* other names of a hard-linked file */
	char first_name[];	/* `name` points here until a rename (one allocation) */
};

/* Another name a file was seen under (hard links); holds a ref on parent.
 * The node's own (parent, name) is the one used; when that name goes away
 * a still valid alias takes its place. */
struct ufs_alias {
	struct ufs_alias *next;
	struct ufs_node *parent;
	char name[];
};

struct ufs_fs;

/* Open file and directory handles are linked into fs->handles, so those
 * whose RELEASE the kernel drops at unmount are still freed at destroy. */
struct ufs_handle {
	struct ufs_handle *prev, *next;
	void (*release)(struct ufs_fs *fs, struct ufs_handle *h);
};

/* Every FUSE operation, for the per-operation counters. */
#define UFS_OPS(X)                                                                  \
	X(lookup) X(forget) X(forget_multi) X(getattr) X(setattr) X(readlink) X(mknod) \
	X(mkdir) X(unlink) X(rmdir) X(symlink) X(rename) X(link) X(open) X(read)       \
	X(write_buf) X(flush) X(release) X(fsync) X(opendir) X(readdir)                \
	X(readdirplus) X(releasedir) X(fsyncdir) X(statfs) X(setxattr) X(getxattr)     \
	X(listxattr) X(removexattr) X(access) X(create) X(fallocate) X(lseek)          \
	X(copy_file_range) X(ioctl)

enum ufs_op {
#define X(op) UFS_OP_##op,
	UFS_OPS(X)
#undef X
	UFS_OP__COUNT
};
extern const char *const ufs_op_names[UFS_OP__COUNT];

#define UFS_STAT_ADD(counter, n) atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)

/* The origin map keeps st_ino stable across copy-up. */
struct ufs_origin {
	UT_hash_handle hh;
	uint64_t key[2];	/* upper st_dev, st_ino */
	uint64_t ino;
};

struct ufs_fs {
	struct ufs_config cfg;
	/* Held for reading by every request, for writing by a branch change
	 * (ctl.c); br, nbr and all per-branch indexes change only then. */
	pthread_rwlock_t br_lock;
	struct ufs_branch *br;
	int nbr;
	uid_t owner;			/* the user who mounted */
	char *mnt_abs;			/* absolute mountpoint */
	_Atomic uint64_t ops[UFS_OP__COUNT];
	_Atomic uint64_t copyups, bytes_copied, cache_hits;
	struct ufs_node *root;
	struct fuse_session *se;
	pthread_mutex_t table_lock;
	struct ufs_node **ntab;		/* node table (node.c): ntab_mask + 1 buckets */
	size_t ntab_mask, nnodes;	/* nnodes: in the table (the root is not) */
	struct ufs_origin *origins;
	dev_t devs[UFS_MAX_BRANCHES * 2];	/* st_dev -> small index */
	int ndevs;
	pthread_mutex_t cu_locks[64];	/* copy-up of one node, by address */
	pthread_mutex_t dir_lock;	/* directory copy-up (parents chains) */
	/* A copy-up's identity window (copyup.c): from the copy becoming
	 * visible until its node has the new key, its branch and, for a hard
	 * link, every name linked.  Recursive; before dir_lock. */
	pthread_mutex_t rekey_lock;
	_Atomic unsigned int rekey_gen;	/* bumped as a window opens and closes */
	_Atomic unsigned int rekey_open;	/* windows open now */
	int *retired;			/* fds no longer used, closed at unmount */
	pthread_mutex_t handle_lock;
	struct ufs_handle handles;	/* list head of open handles */
	pthread_mutex_t dirs_lock;	/* after table_lock */
	struct ufs_dir *dirs;		/* listings being read (readdir.c) */
	size_t dirs_bytes;		/* their memory */
	size_t nretired;
	_Atomic uint64_t tmp_counter;
	_Atomic uint64_t next_ino;	/* for objects on unknown devices */
	double entry_timeout, attr_timeout;
	struct fuse_conn_info_opts *conn_opts;	/* max_write= and friends */
	struct ufs_watch *watch;		/* external changes (cache=auto) */
	_Atomic uint64_t watch_events, watch_overflows;	/* read from it; queue overflows */
	bool am_root;
	/* passthrough.c */
	pthread_mutex_t pt_lock;
	struct pt_inode *pt_inodes;	/* io mode of nodes with open files */
	struct pt_mark *pt_marks;	/* branch files written by passthrough */
	unsigned int pt_sweep_at;	/* sweep pt_marks beyond this many */
	_Atomic bool pt_on, pt_offered, pt_init_done;
	_Atomic uint64_t pt_init_unique;
	bool pt_wanted;			/* root, not nopassthrough or direct_io */
	_Atomic bool kp_offered;	/* the kernel offered HANDLE_KILLPRIV_V2 */
	/* uring.c */
	_Atomic bool ur_offered;	/* the kernel's INIT offered io_uring */
	struct ur_thread *ur_threads;
	unsigned int ur_nthreads;
	_Atomic unsigned int ur_live;	/* threads with their entry registered */
	int ur_stop_fd;
	_Atomic uint64_t ur_requests;	/* served through a ring */
};

/* The result of resolving a name across branches (resolve.c). */
struct ufs_lookup {
	int branch;		/* top branch holding it, -1 if none */
	struct stat st;		/* stat in `branch` */
	int *dfd;		/* directories: per-branch fds (caller owns) */
	bool lower;		/* a copy exists below `branch` (hidden by it) */
	unsigned int gen;	/* fs->rekey_gen when the resolve began */
};

/* Open file handle. */
struct ufs_file {
	struct ufs_handle h;	/* first member */
	int fd;
	int oldfd;		/* fd before the last copy-up, closed at release */
	int branch;		/* branch the fd was opened on */
	int flags;
	bool pinned;		/* never reopen: branch removed, or passthrough */
	bool tracked;		/* counted in fs->pt_inodes */
	int bk_id;		/* kernel backing id when passing through */
	struct ufs_node *node;
	pthread_mutex_t lock;
};

static inline struct ufs_fs *
ufs_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* ---- log.c ---- */
enum ufs_loglevel { UFS_LOG_ERR, UFS_LOG_WARN, UFS_LOG_INFO, UFS_LOG_DEBUG };
void ufs_log_init(const char *debug_file, bool debug);
void ufs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool ufs_log_debug_on(void);
void ufs_log_set_debug(bool on);
int ufs_log_set_file(const char *path);
#define ufs_dbg(...) do { if (ufs_log_debug_on()) ufs_log(UFS_LOG_DEBUG, __VA_ARGS__); } while (0)

/* ---- opts.c ---- */
/* Parse argv into cfg and the libfuse args; returns 0, 1 (exit 0 after
 * help/version) or -1 (error printed). */
int ufs_opts_parse(int argc, char **argv, struct ufs_config *cfg, struct fuse_args *args);
/* Split cfg->dirs into branches (paths resolved, fds opened); 0 or -1. */
int ufs_branches_open(struct ufs_fs *fs);
void ufs_config_free(struct ufs_config *cfg);
void ufs_usage(const char *prog);

/* ---- branch.c ---- */
int br_open(struct ufs_fs *fs, const char *spec, bool rw, struct ufs_branch *b, char *msg,
	    size_t size);
void br_close(struct ufs_branch *b);
void br_meta_refresh(struct ufs_fs *fs, int b);
int br_fstatat(const struct ufs_fs *fs, int dirfd, const char *name, struct stat *st);
int br_openat(int dirfd, const char *name, int flags, mode_t mode);
int br_opendir_path(int dirfd, const char *name);
int br_metafd(struct ufs_fs *fs, int b, bool create);
int br_fd_path(int fd, char *buf, size_t size);
int br_mkdirs_at(int basefd, const char *relpath, mode_t mode);
int br_rmtree_at(int dirfd, const char *name);
int br_first_rw_at_or_above(const struct ufs_fs *fs, int b);
bool br_is_rw(const struct ufs_fs *fs, int b);
void br_work_clean(struct ufs_fs *fs);
void br_work_remove(struct ufs_fs *fs);
int br_work_prepare(struct ufs_fs *fs, int b);
int br_tmpname(struct ufs_fs *fs, char *buf, size_t size);

/* ---- node.c ---- */
int ufs_nodes_init(struct ufs_fs *fs);
/* Every node in the table, the root aside (table_lock held); the loop body
 * may take n out of the table. */
#define UFS_NODES_FOREACH(fs, n, tmp)                                      \
	for (size_t ufs_b_ = 0; ufs_b_ <= (fs)->ntab_mask; ufs_b_++)        \
		for ((n) = (fs)->ntab[ufs_b_]; (n) && ((tmp) = (n)->hnext, 1); \
		     (n) = (tmp))
struct ufs_node *ufs_node_find_locked(struct ufs_fs *fs, const uint64_t key[2]);
void ufs_nodes_destroy(struct ufs_fs *fs);
struct ufs_node *ufs_node_get(struct ufs_fs *fs, fuse_ino_t ino);
/* Find or create the node for a resolved child; takes one lookup ref. */
struct ufs_node *ufs_node_lookup(struct ufs_fs *fs, struct ufs_node *parent, const char *name,
				 struct ufs_lookup *lk);
void ufs_node_forget(struct ufs_fs *fs, struct ufs_node *n, uint64_t nlookup);
/* n's parent, held (ufs_node_unref when done); NULL for the root.  A
 * lookup or rename in another thread can give n another parent and free
 * the old one, so outside table_lock n->parent is read only this way. */
struct ufs_node *ufs_node_parent(struct ufs_fs *fs, struct ufs_node *n);
void ufs_node_ref(struct ufs_fs *fs, struct ufs_node *n);
void ufs_node_unref(struct ufs_fs *fs, struct ufs_node *n);
void ufs_node_rekey(struct ufs_fs *fs, struct ufs_node *n, const struct stat *st);
void ufs_node_moved(struct ufs_fs *fs, struct ufs_node *n, struct ufs_node *oldparent,
		    const char *oldname, struct ufs_node *newparent, const char *newname);
/* parent/name no longer names the file st (unlinked, hidden or replaced):
 * a node that used that name moves to another of its names. */
void ufs_node_name_gone(struct ufs_fs *fs, struct ufs_node *parent, const char *name,
			const struct stat *st);
/* The same for a node the caller holds: n's file was renamed over. */
void ufs_node_replaced(struct ufs_fs *fs, struct ufs_node *n, struct ufs_node *parent,
		       const char *name);
uint64_t ufs_ino_for(struct ufs_fs *fs, dev_t dev, ino_t ino);
void ufs_origin_add(struct ufs_fs *fs, const struct stat *upper, uint64_t ino);
/* Where a node lives in branch b: (dirfd, name), with a ref on the parent
 * so the dirfd stays valid until ufs_loc_put(). */
struct ufs_loc {
	struct ufs_node *parent;	/* NULL for the root */
	int dirfd;
	char name[NAME_MAX + 1];
};
int ufs_loc_get(struct ufs_fs *fs, struct ufs_node *n, int b, struct ufs_loc *loc);
void ufs_loc_put(struct ufs_fs *fs, struct ufs_loc *loc);
int ufs_node_branch(struct ufs_node *n);
int ufs_node_dfd(struct ufs_node *n, int b);
void ufs_node_set_dfd(struct ufs_node *n, int b, int fd);
/* Forget every per-branch fd of a directory and of the directories below
 * it except branch `keep`'s (after it was renamed away from its lower
 * copies). */
void ufs_node_drop_lower(struct ufs_fs *fs, struct ufs_node *n, int keep);
void ufs_node_set_branch(struct ufs_fs *fs, struct ufs_node *n, int b);
/* Stop finding n by its object: the next lookup makes a new node (and the
 * kernel a new inode) for it, while n serves the files open on it. */
void ufs_node_retire(struct ufs_fs *fs, struct ufs_node *n);
/* Path of n relative to the union root ("" for root); caller frees. */
char *ufs_node_path(struct ufs_fs *fs, struct ufs_node *n);
int ufs_node_stat(struct ufs_fs *fs, struct ufs_node *n, struct stat *st);
void ufs_fill_stat(struct ufs_fs *fs, struct ufs_node *n, struct stat *st);

/* ---- resolve.c ---- */
int ufs_resolve(struct ufs_fs *fs, struct ufs_node *parent, const char *name,
		struct ufs_lookup *lk);
int ufs_resolve_below(struct ufs_fs *fs, struct ufs_node *parent, const char *name, int below,
		      struct ufs_lookup *lk);
void ufs_lookup_release(struct ufs_fs *fs, struct ufs_lookup *lk);

/* ---- whiteout.c ---- */
/* True when branch b holds a whiteout for parent/name. */
bool wo_exists(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name);
int wo_create(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name, bool dir);
int wo_remove(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name);
/* Remove markers of the subtree parent/name in b (after it became opaque). */
void wo_remove_subtree(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name);
/* Callback for each name whited out in directory dir on branch b. */
typedef void (*wo_list_cb)(void *ctx, const char *name);
void wo_list(struct ufs_fs *fs, struct ufs_node *dir, int b, wo_list_cb cb, void *ctx);
bool wo_is_meta_name(const char *name);
bool wo_is_tmp_name(const char *name);
/* Reading any format (overlay markers, .wh. files, opaque xattrs). */
bool wo_is_whiteout_entry(int dirfd, const char *name, const struct stat *st);
bool wo_dir_is_opaque(int dirfd);
bool wo_dir_has_xattr_whiteouts(int dirfd);
enum { WO_KIND_NONE, WO_KIND_WHITEOUT, WO_KIND_META };
/* What a directory entry is; *hides is the name it hides for a whiteout. */
int wo_entry_kind(int dirfd, const char *name, unsigned char type, bool xattr_wo,
		  const char **hides);
bool wo_is_internal_xattr(const char *name);
/* Writing in the configured format. */
/* Hide parent/name in branch b, which holds no object of that name. */
int wo_hide(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name, bool dir);
/* Replace the object parent/name in branch b by a whiteout, atomically. */
int wo_replace(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name, bool dir);
/* Make the directory parent/name in branch b opaque. */
int wo_set_opaque(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name);
/* Does an overlay whiteout entry sit at name in branch b? */
bool wo_occupies(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name);
/* Move the object created at tmp over the whiteout at name (a directory
 * becomes opaque). */
int wo_install(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *tmp,
	       const char *name, bool dir);
void wo_tmpname(struct ufs_fs *fs, char *buf, size_t size);
void wo_purge_dir(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name);

/* ---- copyup.c ---- */
/* Make n live on an RW branch at or above `limit` (-1: nearest RW above
 * its branch).  data=false skips file contents (for O_TRUNC).  0/-errno. */
int cu_copyup(struct ufs_fs *fs, struct ufs_node *n, int limit, bool data);
/* Make directory n exist in branch b (parents first). */
int cu_dir_in_branch(struct ufs_fs *fs, struct ufs_node *n, int b);
/* Copy the whole merged tree of directory n into its branch b. */
int cu_dir_complete(struct ufs_fs *fs, struct ufs_node *n, int b);
int cu_target_branch(struct ufs_fs *fs, int holder);

/* ---- links.c ---- */
/* A file of branch `from` was copied up to t as `upper`: link its other
 * names there. */
void lk_link_aliases(struct ufs_fs *fs, const struct ufs_loc *upper, int from, int t,
		     const struct stat *lower);
void lk_free(struct ufs_fs *fs);

/* ---- readdir.c ---- */
/* One entry: its offset (a hash of the name, see readdir.c), inode number
 * for d_ino, d_type, and where its name starts in the listing's names. */
struct ufs_dirent {
	uint64_t off;
	uint64_t ino;
	uint32_t name;
	unsigned char type;
};
/* A merged listing, sorted by offset.  Those from ufs_dir_get are shared
 * and must not change; hh, node and refs belong to the cache. */
struct ufs_dir {
	UT_hash_handle hh;	/* fs->dirs, keyed by node */
	struct ufs_node *node;
	_Atomic uint32_t refs;
	struct ufs_dirent *ents;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
};
static inline const char *
ufs_dirent_name(const struct ufs_dir *d, size_t i)
{
	return d->names + d->ents[i].name;
}
/* Build n's listing into d (caller-owned, empty or cleared). */
int ufs_dir_load(struct ufs_fs *fs, struct ufs_node *n, struct ufs_dir *d);
void ufs_dir_clear(struct ufs_dir *d);
/* The index of the first entry after offset off (2 or less: the first). */
size_t ufs_dir_seek(const struct ufs_dir *d, uint64_t off);
/* A reference to n's cached listing, built anew if fresh or if there is
 * none; NULL with *err set on failure.  Release with ufs_dir_put. */
struct ufs_dir *ufs_dir_get(struct ufs_fs *fs, struct ufs_node *n, bool fresh, int *err);
void ufs_dir_put(struct ufs_dir *d);
/* A reader came to the end of d: the cache need not keep it. */
void ufs_dir_done(struct ufs_fs *fs, struct ufs_dir *d);
/* Drop the cached listing of n (node freed), or all (branches changed). */
void ufs_dir_forget(struct ufs_fs *fs, struct ufs_node *n);
void ufs_dir_forget_all(struct ufs_fs *fs);
/* 0 when the merged directory shows no entries, -ENOTEMPTY otherwise. */
int ufs_dir_empty(struct ufs_fs *fs, struct ufs_node *n);

/* ---- watch.c ---- */
int ufs_watch_start(struct ufs_fs *fs);
void ufs_watch_stop(struct ufs_fs *fs);
int ufs_watch_add_branch(struct ufs_fs *fs, const char *path);

/* ---- passthrough.c ---- */
/* Route the session's I/O through the layer that negotiates passthrough. */
int pt_attach(struct ufs_fs *fs);
/* Choose the io mode of the new handle f: 0, or -ESTALE when the node's
 * open files pass through to another backing file (retire the node). */
int pt_open(struct ufs_fs *fs, struct ufs_file *f);
void pt_release(struct ufs_fs *fs, struct ufs_file *f);
/* Open handles whose I/O passes through now. */
size_t pt_files(struct ufs_fs *fs);
/* Was branch file (dev, ino) written through passthrough just now? */
bool pt_wrote(struct ufs_fs *fs, dev_t dev, ino_t ino);
void pt_free(struct ufs_fs *fs);
int pt_reply_open(fuse_req_t req, const struct fuse_file_info *fi, const struct ufs_file *f);
int pt_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
		    const struct fuse_file_info *fi, const struct ufs_file *f);

/* ---- uring.c ---- */
/* Register ring queues (one pinned thread pair per CPU) after INIT. */
void ur_start(struct ufs_fs *fs, uint32_t max_write, uint32_t max_pages);
void ur_stop(struct ufs_fs *fs);
/* Are all queues' threads up with their entries registered? */
bool ur_on(struct ufs_fs *fs);
/* A reply sent by the thread serving a ring request goes into its entry:
 * true when it was taken (*res is writev's result). */
bool ur_reply(const struct iovec *iov, int count, ssize_t *res);
/* The same for a reply libfuse put in a pipe to splice (len bytes). */
bool ur_reply_pipe(int fd, size_t len, ssize_t *res);

/* ---- ctl.c ---- */
void ufs_ctl(struct ufs_fs *fs, fuse_req_t req, const char *cmd, size_t len, char *buf,
	     size_t size);
ssize_t ufs_ctl_xattr(struct ufs_fs *fs, struct ufs_node *n, const char *name, char *buf,
		      size_t size);
bool ufs_ctl_is_xattr(const char *name);

/* ---- cred.c ---- */
struct ufs_cred {
	bool changed;
	bool groups;
	uid_t uid;
	gid_t gid;
};
int ufs_cred_enter(struct ufs_fs *fs, fuse_req_t req, struct ufs_cred *saved);
void ufs_cred_leave(struct ufs_cred *saved);

/* ---- ops*.c ---- */
extern const struct fuse_lowlevel_ops ufs_ops;
void ufs_op_init(void *userdata, struct fuse_conn_info *conn);
void ufs_op_destroy(void *userdata);
void ufs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void ufs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void ufs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void ufs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ufs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		    struct fuse_file_info *fi);
void ufs_op_readlink(fuse_req_t req, fuse_ino_t ino);
void ufs_op_statfs(fuse_req_t req, fuse_ino_t ino);
void ufs_op_access(fuse_req_t req, fuse_ino_t ino, int mask);
void ufs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void ufs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void ufs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void ufs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void ufs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void ufs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void ufs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		   const char *newname, unsigned int flags);
void ufs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		   struct fuse_file_info *fi);
void ufs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ufs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi);
void ufs_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv, off_t off,
		      struct fuse_file_info *fi);
void ufs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ufs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ufs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void ufs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		      struct fuse_file_info *fi);
void ufs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		  struct fuse_file_info *fi);
void ufs_op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			    struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			    struct fuse_file_info *fi_out, size_t len, int flags);
void ufs_op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		  struct fuse_file_info *fi, unsigned flags, const void *in_buf, size_t in_bufsz,
		  size_t out_bufsz);
void ufs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ufs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void ufs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi);
void ufs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ufs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void ufs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		     size_t size, int flags);
void ufs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void ufs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void ufs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* ops_entry.c helpers shared by the other handler files */
void ufs_reply_entry(fuse_req_t req, struct ufs_fs *fs, struct ufs_node *parent,
		     const char *name, int err);
int ufs_fill_entry(struct ufs_fs *fs, struct ufs_node *parent, const char *name,
		   struct fuse_entry_param *e, struct ufs_node **out);
/* Make n writable (copy-up with cow, else EROFS); data as in cu_copyup. */
int ufs_make_writable(struct ufs_fs *fs, struct ufs_node *n, bool data);

/* ops_file.c */
void ufs_handle_add(struct ufs_fs *fs, struct ufs_handle *h,
		    void (*release)(struct ufs_fs *, struct ufs_handle *));
void ufs_handle_del(struct ufs_fs *fs, struct ufs_handle *h);
void ufs_handles_release_all(struct ufs_fs *fs);
void ufs_file_release_fn(struct ufs_fs *fs, struct ufs_handle *h);
void ufs_file_drop(struct ufs_fs *fs, struct ufs_file *f);
struct ufs_file *ufs_file_new(struct ufs_fs *fs, struct ufs_node *n, int fd, int branch,
			      int flags);
int ufs_file_fd(struct ufs_fs *fs, struct ufs_file *f);
void ufs_file_info(struct ufs_fs *fs, struct fuse_file_info *fi, struct ufs_file *f);

#endif
