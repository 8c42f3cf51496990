/*
 * cgfreeze.h - private header of the cgroup freezer tool: the map.
 *
 * Layers, bottom up:
 *   cgfs.c     fd-relative access to one hierarchy: open groups component by
 *              component with O_NOFOLLOW, small files, PID lists, moves
 *   mode.c     which cgroup layout the host has (mountinfo + statfs magic)
 *              and which hierarchy this run uses (struct cg_ctx)
 *   v1lib.c    the v1 freezer through libcgroup (state, delete, listing)
 *   freezer.c  the state model and the freeze/thaw algorithms for v1 and v2
 *   cmd_*.c    one function per subcommand; the only code that prints
 *   main.c     option parsing and dispatch
 *
 * Library-style functions return 0 or -errno and never print.
 */
#ifndef UFS_CGFREEZE_H
#define UFS_CGFREEZE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common.h"

#define CG_DEFAULT_TIMEOUT 10.0 /* seconds, like runc */

/* Which cgroup version a hierarchy speaks. */
enum cg_ver {
	CG_V1 = 1,
	CG_V2 = 2,
};

/* What the host mounts, in systemd's vocabulary. */
enum cg_layout {
	CG_LAYOUT_NONE,	   /* no cgroup filesystem at all */
	CG_LAYOUT_LEGACY,  /* only v1 hierarchies */
	CG_LAYOUT_HYBRID,  /* v1 hierarchies plus a cgroup2 mount */
	CG_LAYOUT_UNIFIED, /* only cgroup2 */
};

/* Effective freezer state, the same words for both versions. */
enum cg_fstate {
	CG_THAWED,
	CG_FREEZING,
	CG_FROZEN,
};

/* --mode */
enum cg_modesel {
	CG_MODE_AUTO,
	CG_MODE_V1,
	CG_MODE_V2,
};

/* Options collected by main.c; which ones a command accepts is in its table. */
struct cg_opts {
	enum cg_modesel mode;
	const char *root; /* --root DIR or NULL (borrowed from argv) */
	bool json;
	bool quiet;
	double timeout; /* seconds */
	bool timeout_set;
	bool no_wait;
	bool kill;
	pid_t *tids; /* --thread TID..., owned */
	size_t ntids;
};

/* Cgroup mounts found in /proc/self/mountinfo (strings owned). */
struct cg_mounts {
	enum cg_layout layout;
	char *freezer;	    /* v1 hierarchy with the freezer controller, or NULL */
	char *freezer_root; /* its mountinfo "root" field ("/" normally) */
	char *unified;	    /* cgroup2 mount point, or NULL */
	char *unified_root;
	bool freezer_in_kernel; /* /proc/cgroups lists an enabled freezer */
};

/* Everything one command run needs to know about its hierarchy. */
struct cg_ctx {
	struct cg_opts opt;
	struct cg_mounts mounts;
	enum cg_ver ver;
	char *root;	 /* path of the hierarchy root (owned) */
	int rootfd;	 /* O_DIRECTORY fd of root, or -1 */
	bool fake;	 /* --root is not a cgroup filesystem: plain files */
	bool use_lib;	 /* v1 on the mount libcgroup sees: use libcgroup */
	bool own_mount;	 /* root is the discovered mount (so /proc/PID/cgroup applies) */
	const char *cmd; /* the subcommand, for messages */
};

/* A snapshot of one group's freezer status. */
struct cg_status {
	enum cg_fstate state;
	bool self;   /* this group asked to be frozen */
	bool parent; /* an ancestor asked to be frozen */
	long procs;  /* processes (cgroup.procs lines) */
	long tasks;  /* threads (tasks / cgroup.threads lines) */
};

/* Set by the signal handler; freeze loops stop and thaw back when set. */
extern volatile sig_atomic_t cg_interrupted;

/* ---- cgfs.c ---- */

/* Open directory NAME below dirfd one component at a time, O_NOFOLLOW.
 * "" opens dirfd itself again.  Returns an fd or -errno. */
int cgfs_open_dir(int dirfd, const char *name);
/* Open the parent of NAME; *leaf points into name at the last component. */
int cgfs_open_parent(int dirfd, const char *name, const char **leaf);
/* Create NAME and any missing parents.  *created is how many trailing
 * components were made (0 when NAME existed: returns -EEXIST then). */
int cgfs_mkdir_path(int dirfd, const char *name, int *created);
/* Remove the last n components of NAME, deepest first (undo of mkdir_path). */
int cgfs_rmdir_path(int dirfd, const char *name, int n);
/* First line of dirfd/file into buf (newline stripped). */
int cgfs_read_line(int dirfd, const char *file, char *buf, size_t size);
/* Find the "KEY VALUE" line in buf (modified); -ENODATA if absent. */
int cgfs_parse_key(char *buf, const char *key, long *val);
/* Read the "KEY VALUE" line of a flat keyed file such as cgroup.events. */
int cgfs_read_key(int dirfd, const char *file, const char *key, long *val);
/* Write s plus a newline with O_APPEND in one write(): kernfs ignores the
 * offset, and on a plain-file fake tree every write stays visible as a log
 * line after the first (which is what readers look at). */
int cgfs_write(int dirfd, const char *file, const char *s);
/* All numbers in a PID/TID list file; *pids is malloc'd, caller frees. */
int cgfs_read_pids(int dirfd, const char *file, pid_t **pids, size_t *n);
/* Count lines of a PID list file (missing file counts 0 on fake trees). */
long cgfs_count(int dirfd, const char *file);
/* Move a process (cgroup.procs) or a thread (tasks / cgroup.threads). */
int cgfs_move(int gfd, const char *file, pid_t pid);
/* True if pid is in the group's cgroup.procs or in any descendant's. */
int cgfs_tree_has_pid(int gfd, pid_t pid, bool *found);
/* First child group name of gfd into buf; -ENOENT when there is none. */
int cgfs_first_child(int gfd, char *buf, size_t size);
/* Does the process exist (a zombie counts)? */
bool cgfs_pid_exists(pid_t pid);
/* Path of pid's group in the hierarchy of ver (v1: the freezer line),
 * from /proc/PID/cgroup; *path malloc'd, caller frees. */
int cgfs_proc_group(pid_t pid, enum cg_ver ver, char **path);

/* ---- mode.c ---- */

/* Fill m from /proc/self/mountinfo; strings owned by m. */
int cg_mounts_scan(struct cg_mounts *m);
void cg_mounts_free(struct cg_mounts *m);
const char *cg_layout_name(enum cg_layout l);
/* Pick and open the hierarchy for this run; on failure *why says what is
 * missing and how to mount it (static string or NULL). */
int cg_ctx_open(struct cg_ctx *ctx, const char **why);
void cg_ctx_close(struct cg_ctx *ctx);
const char *cg_ver_name(enum cg_ver v);
/* Turn a /proc/PID/cgroup path of this hierarchy into a name relative to
 * ctx->root ("" for the root); NULL when it lies outside the mount. */
const char *cg_ctx_rel_path(const struct cg_ctx *ctx, const char *procpath);

/* ---- v1lib.c ---- */

/* libcgroup codes to -errno (ECGOTHER uses cgroup_get_last_errno()). */
int v1_lib_err(int rc);
int v1_lib_init(void);
int v1_lib_write_state(const char *name, const char *state);
int v1_lib_read(const char *name, const char *file, char *buf, size_t size);
int v1_lib_delete(const char *name);
/* Mount point of a v1 controller's hierarchy; *mnt malloc'd, caller frees. */
int v1_lib_mount(const char *ctrl, char **mnt);
/* lscgroup-compatible listing of CTRL:PATH (ctrl NULL: every hierarchy).
 * Calls emit(controllers, path, is_base, arg) for every group. */
typedef void (*v1_emit_fn)(const char *ctrls, const char *path, bool base, void *arg);
int v1_lib_list(const char *ctrl, const char *path, v1_emit_fn emit, void *arg);

/* ---- freezer.c ---- */

const char *cg_fstate_name(enum cg_fstate s);
int cg_status_read(const struct cg_ctx *ctx, const char *name, int gfd, struct cg_status *st);
/* Freeze and wait until FROZEN (unless nowait).  On any failure, signal or
 * timeout (-ETIMEDOUT) the group is thawed back before returning. */
int cg_freeze(const struct cg_ctx *ctx, const char *name, int gfd, double timeout, bool nowait);
/* Thaw and wait until no longer frozen; -EBUSY when a parent keeps it frozen. */
int cg_thaw(const struct cg_ctx *ctx, const char *name, int gfd, double timeout);
/* Write the thawed value without waiting (used by undo paths and delete). */
int cg_thaw_write(const struct cg_ctx *ctx, const char *name, int gfd);
double cg_now(void);
void cg_sleep(double seconds);
void cg_signals_install(void);

/* ---- cmd_*.c: each returns an exit code (enum cm_exit) ---- */

int cmd_mode(struct cg_ctx *ctx, int argc, char **argv);
int cmd_create(struct cg_ctx *ctx, int argc, char **argv);
int cmd_add(struct cg_ctx *ctx, int argc, char **argv);
int cmd_run(struct cg_ctx *ctx, int argc, char **argv);
int cmd_freeze(struct cg_ctx *ctx, int argc, char **argv);
int cmd_thaw(struct cg_ctx *ctx, int argc, char **argv);
int cmd_state(struct cg_ctx *ctx, int argc, char **argv);
int cmd_pids(struct cg_ctx *ctx, int argc, char **argv);
int cmd_delete(struct cg_ctx *ctx, int argc, char **argv);
int cmd_cgroups(struct cg_ctx *ctx, int argc, char **argv);
int cmd_ls(struct cg_ctx *ctx, int argc, char **argv);

/* cmd_common.c: checks shared by the group commands */
/* Validate NAME and open the group; prints the error and returns an exit
 * code, or CM_EX_OK with *gfd set. */
int cg_group_open(const struct cg_ctx *ctx, const char *name, int *gfd);
/* Validate a group name (prints; returns exit code). */
int cg_name_check(const struct cg_ctx *ctx, const char *name);
/* Refuse groups that contain this very process (prints; exit code). */
int cg_refuse_self(const struct cg_ctx *ctx, const char *name, int gfd);
/* Report a failed cg_ctx_open() (why: its hint); returns the exit code. */
int cg_ctx_error(const struct cg_ctx *ctx, int err, const char *why);
/* Print "cgfreeze: CMD OBJ: strerror" and map err (>0) to an exit code. */
int cg_fail(const struct cg_ctx *ctx, const char *obj, int err);
/* Begin a group's JSON object with its "name" and "hierarchy" members. */
void cg_json_group_begin(struct cm_json *j, const struct cg_ctx *ctx, const char *name);
/* Parse PID arguments; all must exist.  Prints; returns exit code. */
int cg_parse_pids(const struct cg_ctx *ctx, const char *obj, int argc, char **argv, pid_t *out);

#endif
