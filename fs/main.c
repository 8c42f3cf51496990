/*
 * main.c - parse options, open the branches, create the FUSE session, run
 * the multithreaded loop, tear down.  Nothing else lives here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ufs.h"

/* One fd per directory node: raise the soft limit to the hard limit. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
close_branches(struct ufs_fs *fs)
{
	lk_free(fs);
	for (int i = 0; i < fs->nbr; i++)
		br_close(&fs->br[i]);
	free(fs->br);
}

/* Kernel cache timeouts: the user's, else by cache= (auto gets `t_auto`). */
static void
set_timeouts(struct ufs_fs *fs, double t_auto)
{
	const double defaults[] = { 0.0, t_auto, 86400.0 };
	double t = defaults[fs->cfg.cache];

	fs->entry_timeout = fs->cfg.entry_timeout >= 0 ? fs->cfg.entry_timeout : t;
	fs->attr_timeout = fs->cfg.attr_timeout >= 0 ? fs->cfg.attr_timeout : t;
}

static int
add_mount_opts(struct ufs_fs *fs, struct fuse_args *args)
{
	if (!fs->cfg.relaxed_perms && fuse_opt_add_arg(args, "-odefault_permissions") < 0)
		return -1;
	if (!fs->cfg.has_fsname && fuse_opt_add_arg(args, "-ofsname=unionfs") < 0)
		return -1;
	if (!fs->cfg.has_subtype && fuse_opt_add_arg(args, "-osubtype=unionfs") < 0)
		return -1;
	/* Connection options (max_write=...) are applied in init(). */
	fs->conn_opts = fuse_parse_conn_info_opts(args);
	if (!fs->conn_opts)
		return -1;
	/* libfuse's request trace is always produced and our log function
	 * drops it while debug output is off, so unionfsctl -d can switch it
	 * at run time. */
	if (fuse_opt_add_arg(args, "-odebug") < 0)
		return -1;
	return 0;
}

/* Worker threads are started as requests wait, up to threads=; idle ones
 * beyond max_idle_threads= exit.  Several threads keep both the client
 * and the daemon busy at once, and a slow request (a copy-up with its
 * fsync) never holds up the others. */
static int
loop_mt(struct ufs_fs *fs)
{
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	int err;

	if (!lc)
		return -ENOMEM;
	fuse_loop_cfg_set_max_threads(lc, fs->cfg.threads);
	fuse_loop_cfg_set_idle_threads(lc, fs->cfg.max_idle_threads ? fs->cfg.max_idle_threads : 10);
	fuse_loop_cfg_set_clone_fd(lc, fs->cfg.clone_fd);
	err = fuse_session_loop_mt(fs->se, lc);
	fuse_loop_cfg_destroy(lc);
	return err;
}

static int
run(struct ufs_fs *fs, struct fuse_args *args)
{
	int err = 1;

	fs->se = fuse_session_new(args, &ufs_ops, sizeof(ufs_ops), fs);
	if (!fs->se)
		return 1;
	if (fuse_set_signal_handlers(fs->se) != 0)
		goto out_destroy;
	/* An absolute mountpoint: after -f and a daemonizing chdir("/") the
	 * unmount at exit must still find it. */
	if (fuse_session_mount(fs->se, fs->mnt_abs) != 0)
		goto out_signals;
	/* Passthrough reads and writes need CAP_SYS_ADMIN to register backing
	 * files; direct_io asks for every request to reach us. */
	fs->pt_wanted = !fs->cfg.no_passthrough && !fs->cfg.direct_io && fs->am_root;
	if ((fs->pt_wanted || !fs->cfg.no_uring) && pt_attach(fs) != 0)
		goto out_unmount;
	if (fuse_daemonize(fs->cfg.foreground) != 0)
		goto out_unmount;
	/* cache=auto: with a watch on the branches the kernel may cache as
	 * long as it likes; we tell it when something changes. */
	if (fs->cfg.cache == UFS_CACHE_AUTO && ufs_watch_start(fs) == 0)
		set_timeouts(fs, 86400.0);
	err = fs->cfg.singlethread ? fuse_session_loop(fs->se) : loop_mt(fs);
	/* A signal (SIGTERM, SIGINT, SIGHUP) is a normal way to stop: libfuse
	 * returns its number, and clears the exited flag on the way out.  So is
	 * the kernel closing the connection after an unmount (a lazy one
	 * reports ECONNABORTED to the threads still reading). */
	if (err > 0 || err == -EINTR || err == -ENODEV || err == -ECONNABORTED ||
	    (err && fuse_session_exited(fs->se)))
		err = 0;
	ufs_watch_stop(fs);
out_unmount:
	fuse_session_unmount(fs->se);
	/* After the unmount: the rings' commands hold /dev/fuse open. */
	ur_stop(fs);
out_signals:
	fuse_remove_signal_handlers(fs->se);
out_destroy:
	fuse_session_destroy(fs->se);
	return err ? 1 : 0;
}

int
main(int argc, char **argv)
{
	struct ufs_fs *fs = calloc(1, sizeof(*fs));
	struct fuse_args args;
	int rc;

	if (!fs)
		return 1;
	/* Modes from the kernel already have the caller's umask applied. */
	umask(0);
	ufs_log_init(NULL, false);	/* libfuse's option errors in our voice */
	rc = ufs_opts_parse(argc, argv, &fs->cfg, &args);
	if (rc != 0) {
		rc = rc > 0 ? 0 : 1;
		goto out_free;
	}
	ufs_log_init(fs->cfg.debug_file, fs->cfg.debug);
	if (ufs_branches_open(fs) != 0) {
		rc = 1;
		goto out_branches;
	}
	raise_fd_limit();
	fs->mnt_abs = realpath(fs->cfg.mountpoint, NULL);
	if (!fs->mnt_abs) {
		fprintf(stderr, "unionfs: mountpoint %s: %s\n", fs->cfg.mountpoint, strerror(errno));
		rc = 1;
		goto out_branches;
	}
	fs->am_root = geteuid() == 0;
	fs->owner = getuid();
	{
		/* Writers first: a branch change must not wait behind an endless
		 * stream of requests (no thread ever takes the lock twice). */
		pthread_rwlockattr_t ra;

		pthread_rwlockattr_init(&ra);
		pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&fs->br_lock, &ra);
		pthread_rwlockattr_destroy(&ra);
	}
	/* Worker threads take callers' groups for a moment and drop back to
	 * none (cred.c); start from none too. */
	if (fs->am_root)
		setgroups(0, NULL);
	set_timeouts(fs, 1.0);
	if (ufs_nodes_init(fs) != 0 || add_mount_opts(fs, &args) != 0) {
		fprintf(stderr, "unionfs: out of memory\n");
		rc = 1;
		goto out_nodes;
	}
	br_work_clean(fs);
	rc = run(fs, &args);
	br_work_remove(fs);
out_nodes:
	ufs_nodes_destroy(fs);
	pt_free(fs);
out_branches:
	free(fs->mnt_abs);
	close_branches(fs);
out_free:
	free(fs->conn_opts);
	fuse_opt_free_args(&args);
	ufs_config_free(&fs->cfg);
	free(fs);
	return rc;
}
