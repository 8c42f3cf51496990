/*
 * opts.c - command line and -o option parsing into the immutable
 * struct ufs_config, and branch-spec parsing ("a=RW:b=RO").
 *
 * One table drives parsing: our own options are stored through offsetof(),
 * libfuse's mount options are kept for fuse_session_new(), and anything
 * else is rejected here with one clear line, so nothing is ever mounted
 * with an option that was silently ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ufs.h"

enum {
	KEY_HELP, KEY_VERSION, KEY_FOREGROUND, KEY_DEBUG, KEY_SINGLE, KEY_KEEP,
	KEY_CACHE, KEY_HIDE_META, KEY_KERNEL_CACHE, KEY_AUTO_CACHE, KEY_NOOP,
	KEY_FSNAME, KEY_SUBTYPE, KEY_WHITEOUT,
};

/* fuse_opt stores values at offsets from the data pointer, so the config
 * being filled is the first member of the parser state. */
struct opt_state {
	struct ufs_config cfg;
	char *pos[2];		/* positional arguments */
	int nonopts;
	int error;
};

#define UFS_OPT(t, p, v) { t, offsetof(struct opt_state, cfg.p), v }

static const struct fuse_opt ufs_opt_table[] = {
	UFS_OPT("cow", cow, 1),
	UFS_OPT("statfs_omit_ro", statfs_omit_ro, 1),
	UFS_OPT("preserve_branch", preserve_branch, 1),
	UFS_OPT("relaxed_permissions", relaxed_perms, 1),
	UFS_OPT("direct_io", direct_io, 1),
	UFS_OPT("volatile", volatile_mode, 1),
	UFS_OPT("noinitgroups", noinitgroups, 1),
	UFS_OPT("chroot=%s", chroot, 0),
	UFS_OPT("debug_file=%s", debug_file, 0),
	UFS_OPT("max_files=%lu", max_files, 0),
	UFS_OPT("dirs=%s", dirs, 0),
	UFS_OPT("threads=%u", threads, 0),
	UFS_OPT("clone_fd", clone_fd, 1),
	UFS_OPT("passthrough", no_passthrough, 0),
	UFS_OPT("nopassthrough", no_passthrough, 1),
	UFS_OPT("uring", no_uring, 0),
	UFS_OPT("nouring", no_uring, 1),
	UFS_OPT("max_idle_threads=%u", max_idle_threads, 0),
	UFS_OPT("entry_timeout=%lf", entry_timeout, 0),
	UFS_OPT("attr_timeout=%lf", attr_timeout, 0),
	UFS_OPT("negative_timeout=%lf", negative_timeout, 0),
	FUSE_OPT_KEY("entry_timeout=", KEY_NOOP),
	FUSE_OPT_KEY("attr_timeout=", KEY_NOOP),
	FUSE_OPT_KEY("cache=", KEY_CACHE),
	FUSE_OPT_KEY("whiteout=", KEY_WHITEOUT),
	UFS_OPT("userxattr", userxattr, 1),
	FUSE_OPT_KEY("hide_meta_files", KEY_HIDE_META),
	FUSE_OPT_KEY("hide_meta_dir", KEY_HIDE_META),
	FUSE_OPT_KEY("kernel_cache", KEY_KERNEL_CACHE),
	FUSE_OPT_KEY("auto_cache", KEY_AUTO_CACHE),
	/* Always true here: inode numbers are ours and stable. */
	FUSE_OPT_KEY("use_ino", KEY_NOOP),
	FUSE_OPT_KEY("readdir_ino", KEY_NOOP),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("-f", KEY_FOREGROUND),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("-s", KEY_SINGLE),
	/* libfuse mount and connection options, passed through. */
	FUSE_OPT_KEY("allow_other", KEY_KEEP),
	FUSE_OPT_KEY("auto_unmount", KEY_KEEP),
	FUSE_OPT_KEY("default_permissions", KEY_NOOP),
	FUSE_OPT_KEY("fsname=", KEY_FSNAME),
	FUSE_OPT_KEY("subtype=", KEY_SUBTYPE),
	FUSE_OPT_KEY("max_read=", KEY_KEEP),
	FUSE_OPT_KEY("blkdev", KEY_KEEP),
	FUSE_OPT_KEY("blksize=", KEY_KEEP),
	FUSE_OPT_KEY("context=", KEY_KEEP),
	FUSE_OPT_KEY("fscontext=", KEY_KEEP),
	FUSE_OPT_KEY("defcontext=", KEY_KEEP),
	FUSE_OPT_KEY("rootcontext=", KEY_KEEP),
	FUSE_OPT_KEY("rw", KEY_KEEP), FUSE_OPT_KEY("ro", KEY_KEEP),
	FUSE_OPT_KEY("suid", KEY_KEEP), FUSE_OPT_KEY("nosuid", KEY_KEEP),
	FUSE_OPT_KEY("dev", KEY_KEEP), FUSE_OPT_KEY("nodev", KEY_KEEP),
	FUSE_OPT_KEY("exec", KEY_KEEP), FUSE_OPT_KEY("noexec", KEY_KEEP),
	FUSE_OPT_KEY("async", KEY_KEEP), FUSE_OPT_KEY("sync", KEY_KEEP),
	FUSE_OPT_KEY("dirsync", KEY_KEEP),
	FUSE_OPT_KEY("atime", KEY_KEEP), FUSE_OPT_KEY("noatime", KEY_KEEP),
	FUSE_OPT_KEY("diratime", KEY_KEEP), FUSE_OPT_KEY("nodiratime", KEY_KEEP),
	FUSE_OPT_KEY("relatime", KEY_KEEP), FUSE_OPT_KEY("norelatime", KEY_KEEP),
	FUSE_OPT_KEY("strictatime", KEY_KEEP), FUSE_OPT_KEY("nostrictatime", KEY_KEEP),
	FUSE_OPT_KEY("lazytime", KEY_KEEP), FUSE_OPT_KEY("nolazytime", KEY_KEEP),
	FUSE_OPT_KEY("max_write=", KEY_KEEP),
	FUSE_OPT_KEY("max_readahead=", KEY_KEEP),
	FUSE_OPT_KEY("max_background=", KEY_KEEP),
	FUSE_OPT_KEY("congestion_threshold=", KEY_KEEP),
	FUSE_OPT_END
};

void
ufs_usage(const char *prog)
{
	printf("Usage: %s [options] BRANCH[=RW|=RO][:BRANCH[=RW|=RO]...] MOUNTPOINT\n"
	       "       %s [options] -o dirs=BRANCH[=RW|=RO][:...] MOUNTPOINT\n"
	       "\n"
	       "Merge the branch directories into one tree at MOUNTPOINT; the leftmost\n"
	       "branch has the highest priority.  Without a mode word the first branch\n"
	       "is RW and the others RO.\n"
	       "\n"
	       "General options:\n"
	       "    -h, --help             print this help and exit\n"
	       "    -V, --version          print the version and exit\n"
	       "    -f                     stay in the foreground\n"
	       "    -d, -o debug           debug output, implies -f\n"
	       "    -s                     single-threaded\n"
	       "    -o OPT[,OPT...]        mount options\n"
	       "\n"
	       "unionfs options (compatible with unionfs-fuse):\n"
	       "    -o cow                 copy-on-write: copy lower files up before changes\n"
	       "    -o dirs=BRANCHES       the branches, instead of the first argument\n"
	       "    -o hide_meta_files     hide .unionfs from the root listing\n"
	       "                           (alias: hide_meta_dir)\n"
	       "    -o statfs_omit_ro      statfs counts RW branches only\n"
	       "    -o chroot=PATH         branch paths are inside PATH\n"
	       "    -o max_files=N         raise the open-file limit to N\n"
	       "    -o preserve_branch     renames keep a file on its own RW branch\n"
	       "    -o relaxed_permissions no default_permissions (not allowed as root)\n"
	       "    -o direct_io           bypass the page cache for file data\n"
	       "    -o debug_file=PATH     write debug output to PATH\n"
	       "    -o noinitgroups        accepted for compatibility, no effect\n"
	       "\n"
	       "unionfs options (new):\n"
	       "    -o volatile            skip the fsyncs that make copy-up durable\n"
	       "    -o cache=never|auto|always\n"
	       "                           kernel caching (default auto: long timeouts kept\n"
	       "                           true by a watch on the branches, as root; 1 s\n"
	       "                           timeouts without it)\n"
	       "    -o threads=N           at most N worker threads (default 16)\n"
	       "    -o nopassthrough       serve file reads and writes in the daemon, not by\n"
	       "                           FUSE passthrough to the branch file (-o passthrough,\n"
	       "                           the default: when the kernel offers it, as root)\n"
	       "    -o nouring             take requests only from /dev/fuse, not from io_uring\n"
	       "                           queues (-o uring, the default: when the kernel\n"
	       "                           offers them: fuse module parameter enable_uring=Y,\n"
	       "                           Linux >= 6.14)\n"
	       "    -o whiteout=unionfs|overlay\n"
	       "                           format of new whiteouts: unionfs-fuse's .unionfs/\n"
	       "                           markers (default) or kernel overlayfs's; both are\n"
	       "                           always read\n"
	       "    -o userxattr           overlay markers use user.overlay.* xattrs\n"
	       "    -o entry_timeout=S, attr_timeout=S, negative_timeout=S\n"
	       "                           override the cache timeouts (seconds)\n"
	       "    -o kernel_cache        same as cache=always\n"
	       "    -o auto_cache          same as cache=auto\n"
	       "    -o use_ino, readdir_ino\n"
	       "                           accepted; inode numbers are always stable\n"
	       "\n"
	       "libfuse options passed through: allow_other, auto_unmount, fsname=,\n"
	       "subtype=, max_read=, max_write=, max_readahead=, max_background=,\n"
	       "congestion_threshold=, clone_fd, max_idle_threads=, blkdev, blksize=,\n"
	       "and the generic ro, rw, suid, nosuid, dev, nodev, exec, noexec, sync,\n"
	       "async, dirsync, atime, noatime, relatime... default_permissions is\n"
	       "always on.\n",
	       prog, prog);
}

static int
set_cache(struct ufs_config *cfg, const char *v)
{
	if (!strcmp(v, "never"))
		cfg->cache = UFS_CACHE_NEVER;
	else if (!strcmp(v, "auto"))
		cfg->cache = UFS_CACHE_AUTO;
	else if (!strcmp(v, "always"))
		cfg->cache = UFS_CACHE_ALWAYS;
	else
		return -1;
	return 0;
}

static int
opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct opt_state *st = data;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		/* Branches and mountpoint, or only the mountpoint with dirs=. */
		if (st->nonopts < 2) {
			st->pos[st->nonopts++] = strdup(arg);
			return 0;
		}
		fprintf(stderr, "unionfs: unexpected argument '%s'\n", arg);
		st->error = 1;
		return -1;
	case FUSE_OPT_KEY_OPT:
		fprintf(stderr, "unionfs: unknown option '%s' (see --help)\n", arg);
		st->error = 1;
		return -1;
	case KEY_HELP:
	case KEY_VERSION:
		st->error = key == KEY_HELP ? 2 : 3;
		return 0;
	case KEY_FOREGROUND:
		st->cfg.foreground = true;
		return 0;
	case KEY_DEBUG:
		st->cfg.debug = st->cfg.foreground = true;
		return 0;
	case KEY_SINGLE:
		st->cfg.singlethread = true;
		return 0;
	case KEY_CACHE:
		if (set_cache(&st->cfg, arg + strlen("cache=")) < 0) {
			fprintf(stderr, "unionfs: bad value in '%s' (never, auto or always)\n", arg);
			st->error = 1;
			return -1;
		}
		return 0;
	case KEY_HIDE_META:
		st->cfg.hide_meta = true;
		return 0;
	case KEY_KERNEL_CACHE:
		st->cfg.cache = UFS_CACHE_ALWAYS;
		return 0;
	case KEY_AUTO_CACHE:
		st->cfg.cache = UFS_CACHE_AUTO;
		return 0;
	case KEY_NOOP:
		return 0;
	case KEY_WHITEOUT:
		if (!strcmp(arg, "whiteout=unionfs") || !strcmp(arg, "whiteout=overlay")) {
			st->cfg.wo_overlay = !strcmp(arg, "whiteout=overlay");
			return 0;
		}
		fprintf(stderr, "unionfs: bad value in '%s' (unionfs or overlay)\n", arg);
		st->error = 1;
		return -1;
	case KEY_FSNAME:
		st->cfg.has_fsname = 1;
		return 1;
	case KEY_SUBTYPE:
		st->cfg.has_subtype = 1;
		return 1;
	default:
		return 1;	/* KEY_KEEP: pass to libfuse */
	}
}

int
ufs_opts_parse(int argc, char **argv, struct ufs_config *cfg, struct fuse_args *args)
{
	struct opt_state st = { .cfg.cache = UFS_CACHE_AUTO };
	int rc;

	st.cfg.entry_timeout = st.cfg.attr_timeout = st.cfg.negative_timeout = -1;
	*args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	rc = fuse_opt_parse(args, &st, ufs_opt_table, opt_proc);
	if (st.cfg.dirs) {
		st.cfg.mountpoint = st.pos[0];
		if (st.nonopts > 1) {
			fprintf(stderr, "unionfs: unexpected argument '%s' (branches given by dirs=)\n",
				st.pos[1]);
			free(st.pos[1]);
			st.error = 1;
		}
	} else {
		st.cfg.dirs = st.pos[0];
		st.cfg.mountpoint = st.pos[1];
	}
	*cfg = st.cfg;
	if (rc < 0 || st.error == 1)
		return -1;
	if (st.error == 2) {
		ufs_usage(argv[0]);
		return 1;
	}
	if (st.error == 3) {
		printf("unionfs %s (libfuse %s)\n", PACKAGE_VERSION, fuse_pkgversion());
		return 1;
	}
	if (!cfg->dirs || !*cfg->dirs) {
		fprintf(stderr, "unionfs: no branches given (see --help)\n");
		return -1;
	}
	if (!cfg->mountpoint) {
		fprintf(stderr, "unionfs: no mountpoint given (see --help)\n");
		return -1;
	}
	if (cfg->relaxed_perms && geteuid() == 0) {
		fprintf(stderr, "unionfs: relaxed_permissions is refused when running as root\n");
		return -1;
	}
	if (cfg->threads == 0)
		cfg->threads = 16;
	return 0;
}

void
ufs_config_free(struct ufs_config *cfg)
{
	free(cfg->dirs);
	free(cfg->mountpoint);
	free(cfg->chroot);
	free(cfg->debug_file);
}

/* Split "path=MODE"; returns 0, or -1 with the message printed. */
static int
parse_mode(char *spec, int index, bool *rw)
{
	char *eq = strrchr(spec, '=');

	*rw = index == 0;
	if (!eq)
		return 0;
	*eq = '\0';
	if (!strcasecmp(eq + 1, "rw"))
		*rw = true;
	else if (!strcasecmp(eq + 1, "ro"))
		*rw = false;
	else {
		fprintf(stderr, "unionfs: bad branch mode '%s' for %s (use RW or RO)\n", eq + 1,
			spec);
		return -1;
	}
	return 0;
}

/* Reject a branch given twice and a mountpoint inside a branch (or the
 * reverse): both would make the union recurse into itself. */
static int
check_overlaps(struct ufs_fs *fs)
{
	char *mnt = realpath(fs->cfg.mountpoint, NULL);
	int err = 0;

	if (!mnt) {
		fprintf(stderr, "unionfs: mountpoint %s: %s\n", fs->cfg.mountpoint, strerror(errno));
		return -1;
	}
	for (int i = 0; i < fs->nbr && !err; i++) {
		size_t bl = strlen(fs->br[i].path), ml = strlen(mnt);

		for (int j = 0; j < i; j++) {
			if (!strcmp(fs->br[i].path, fs->br[j].path)) {
				fprintf(stderr, "unionfs: branch %s is given twice\n", fs->br[i].path);
				err = -1;
			}
		}
		if (!err && !strncmp(mnt, fs->br[i].path, bl) &&
		    (mnt[bl] == '/' || mnt[bl] == '\0' || bl == 1)) {
			fprintf(stderr, "unionfs: mountpoint %s is inside branch %s\n", mnt,
				fs->br[i].path);
			err = -1;
		} else if (!err && !strncmp(mnt, fs->br[i].path, ml) && fs->br[i].path[ml] == '/') {
			fprintf(stderr, "unionfs: branch %s is inside the mountpoint %s\n",
				fs->br[i].path, mnt);
			err = -1;
		}
	}
	free(mnt);
	return err;
}

int
ufs_branches_open(struct ufs_fs *fs)
{
	char *copy = strdup(fs->cfg.dirs), *save = NULL, msg[512];
	int err = 0;

	fs->br = calloc(UFS_MAX_BRANCHES, sizeof(*fs->br));
	if (!copy || !fs->br)
		return -1;
	for (char *tok = strtok_r(copy, ":", &save); tok && !err; tok = strtok_r(NULL, ":", &save)) {
		bool rw;

		if (fs->nbr == UFS_MAX_BRANCHES) {
			fprintf(stderr, "unionfs: too many branches (max %d)\n", UFS_MAX_BRANCHES);
			err = -1;
		} else if (parse_mode(tok, fs->nbr, &rw) < 0 || !*tok) {
			if (!*tok)
				fprintf(stderr, "unionfs: empty branch path in '%s'\n", fs->cfg.dirs);
			err = -1;
		} else if (br_open(fs, tok, rw, &fs->br[fs->nbr], msg, sizeof(msg)) < 0) {
			fprintf(stderr, "unionfs: %s\n", msg);
			err = -1;
		} else {
			fs->nbr++;
		}
	}
	free(copy);
	if (!err && fs->nbr == 0) {
		fprintf(stderr, "unionfs: no branches given\n");
		err = -1;
	}
	if (!err)
		err = check_overlaps(fs);
	if (!err && fs->cfg.max_files) {
		struct rlimit rl = { fs->cfg.max_files, fs->cfg.max_files };

		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			fprintf(stderr, "unionfs: max_files=%lu: %s\n", fs->cfg.max_files,
				strerror(errno));
			err = -1;
		}
	}
	return err;
}
