/*
 * convert.h - unionfs-convert: rewrite a branch's whiteout/opaque markers
 * between unionfs-fuse's format (.unionfs/PATH_HIDDEN~) and kernel
 * overlayfs's format (0/0 character devices, overlay.opaque xattrs).
 *
 * The program works in two phases so that bad input changes nothing:
 * scan (convert_scan.c) collects every marker of every known kind into a
 * plan and classifies it; apply (convert_apply.c) then rewrites one marker
 * at a time, each atomically (new marker under a temporary name, renamed
 * into place, then the old one removed).  It shares no code with the
 * daemon and needs no FUSE.
 */
#ifndef UFS_CONVERT_H
#define UFS_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#define CV_META ".unionfs"
#define CV_LEGACY ".unionfs-fuse"
#define CV_WORK ".ufs-work"
#define CV_SUFFIX "_HIDDEN~"
#define CV_WH ".wh."
#define CV_OPQ ".wh..wh..opq"
#define CV_TMP ".ufs-convert."

enum cv_target {
	CV_TO_OVERLAY,
	CV_TO_UNIONFS,
};

/* The ways a branch can say "PATH is hidden" or "PATH is opaque". */
enum cv_rep {
	CV_R_META_FILE = 1u << 0,     /* .unionfs/PATH_HIDDEN~, a file */
	CV_R_META_DIR = 1u << 1,      /* .unionfs/PATH_HIDDEN~, a directory */
	CV_R_LEGACY_FILE = 1u << 2,   /* .unionfs-fuse/PATH_HIDDEN~, a file */
	CV_R_LEGACY_DIR = 1u << 3,    /* .unionfs-fuse/PATH_HIDDEN~, a directory */
	CV_R_CHARDEV = 1u << 4,	      /* PATH is a 0/0 character device */
	CV_R_XWO_TRUSTED = 1u << 5,   /* PATH: empty file, trusted.overlay.whiteout */
	CV_R_XWO_USER = 1u << 6,      /* PATH: empty file, user.overlay.whiteout */
	CV_R_OCI_WH = 1u << 7,	      /* DIR/.wh.NAME */
	CV_R_OPQ_TRUSTED = 1u << 8,   /* trusted.overlay.opaque=y on PATH */
	CV_R_OPQ_USER = 1u << 9,      /* user.overlay.opaque=y on PATH */
	CV_R_OCI_OPQ = 1u << 10,      /* PATH/.wh..wh..opq */
	CV_R_XDIR_TRUSTED = 1u << 11, /* trusted.overlay.opaque=x: has xattr whiteouts */
	CV_R_XDIR_USER = 1u << 12,    /* user.overlay.opaque=x */
	CV_R_COUNT = 13,
};

#define CV_R_META (CV_R_META_FILE | CV_R_META_DIR)
#define CV_R_LEGACY (CV_R_LEGACY_FILE | CV_R_LEGACY_DIR)
#define CV_R_UNIONFS (CV_R_META | CV_R_LEGACY)
#define CV_R_HIDE (CV_R_UNIONFS | CV_R_CHARDEV | CV_R_XWO_TRUSTED | CV_R_XWO_USER | CV_R_OCI_WH)
#define CV_R_OPQ (CV_R_OPQ_TRUSTED | CV_R_OPQ_USER | CV_R_OCI_OPQ)
#define CV_R_XDIR (CV_R_XDIR_TRUSTED | CV_R_XDIR_USER)

/* What a marker means once the branch itself has been looked at. */
enum cv_kind {
	CV_NONE,      /* only an "x" xattr: no hiding of its own */
	CV_WHITEOUT,  /* PATH is deleted: nothing at PATH in the branch */
	CV_OPAQUE,    /* PATH is a directory of the branch, lower content hidden */
	CV_REDUNDANT, /* hides nothing the branch does not already hide */
};

/* One path of the branch with every marker found for it. */
struct cv_marker {
	char *path;    /* relative to the branch root, "" for the root */
	unsigned reps; /* enum cv_rep bits found by the scan */
	enum cv_kind kind;
	unsigned keep;	 /* reps already in the target format */
	unsigned create; /* the rep to create (0: none) */
	unsigned drop;	 /* reps to remove, after create */
	size_t missing;	 /* parent components to create (overlay) */
	const char *why; /* reason for CV_REDUNDANT; static */
	char *why_path;	 /* path the reason names, or NULL */
};

struct cv_ctx {
	enum cv_target to;
	bool dry_run, userxattr;
	const char *branch; /* as given, for messages */
	int rootfd;	    /* the branch, O_RDONLY|O_DIRECTORY */
	int *lowerfd;	    /* --lower directories, in order */
	size_t nlower;
	struct cv_marker *m; /* sorted by path after cv_plan() */
	size_t n, cap;
	char **stale; /* our temporaries left by a crash, branch-relative */
	size_t nstale, capstale;
	char *unknown;	  /* first non-marker found in a meta tree */
	char *last_chain; /* parent directories the plan creates last */
	bool has_meta, has_legacy;
	unsigned long changes;
};

/* ---- convert_util.c ---- */
/* Open directory PATH (relative, "" = dirfd itself) one component at a time
 * with O_NOFOLLOW; returns an O_RDONLY fd or -errno. */
int cv_open_dir(int dirfd, const char *path);
/* As cv_open_dir, creating missing components with mode 0755. */
int cv_open_dir_mk(int dirfd, const char *path);
/* lstat PATH relative to dirfd without following any symlink on the way. */
int cv_lstat(int dirfd, const char *path, struct stat *st);
/* Remove dirfd/name and, for a directory, everything below it. */
int cv_rmtree_at(int dirfd, const char *name);
/* Call fn(dirfd, name, arg) for each entry of the directory fd but "." and
 * "..", until one fails; takes ownership of fd.  Returns 0 or the first
 * -errno. */
typedef int (*cv_entry_fn)(int dirfd, const char *name, void *arg);
int cv_each_entry(int fd, cv_entry_fn fn, void *arg);
/* A fresh temporary name in buf (CV_TMP prefix, pid and counter). */
void cv_tmpname(char *buf, size_t size);
bool cv_is_tmpname(const char *name);
/* Read xattr name of fd into buf (NUL-terminated); length or -errno. */
ssize_t cv_getxattr(int fd, const char *name, char *buf, size_t size);
/* Keep a directory's atime/mtime across a change made inside it. */
struct cv_times {
	struct timespec ts[2];
	bool valid;
};
void cv_times_save(int fd, struct cv_times *t);
void cv_times_restore(int fd, const struct cv_times *t);
/* The last component of path (borrowed pointer into path). */
const char *cv_basename(const char *path);
/* Caller frees: the directory part of path ("" at top level). */
char *cv_dirname(const char *path);
/* Print s with control bytes and backslashes escaped as \ooo (a name may
 * hold a newline; output stays one line per marker). */
void cv_print_esc(FILE *out, const char *s);
/* The same with "/" in front: a branch-relative path. */
void cv_print_path(FILE *out, const char *path);
/* Append a malloc'd copy of s to a growable string array. */
int cv_strv_add(char ***v, size_t *n, size_t *cap, const char *s);

/* ---- convert_scan.c ---- */
/* Collect every marker of the branch into ctx->m (unsorted, one entry per
 * marker found); 0 or -errno. */
int cv_scan(struct cv_ctx *ctx);

/* ---- convert_plan.c ---- */
/* Merge, classify and decide what to do; 0, or an exit code after printing
 * the reason (nothing has been changed then). */
int cv_plan(struct cv_ctx *ctx);
/* Text for one rep of marker m, e.g. ".unionfs/a_HIDDEN~"; caller frees. */
char *cv_rep_name(const struct cv_marker *m, unsigned rep);

/* ---- convert_apply.c ---- */
/* Print and (unless dry-run) carry out the plan; 0, or an exit code after
 * printing the error.  Each marker is rewritten atomically, so a failure
 * leaves every marker in one format or the other and a rerun completes. */
int cv_apply(struct cv_ctx *ctx);

#endif
