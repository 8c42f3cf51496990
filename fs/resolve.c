/*
 * resolve.c - finding a name across the branches.  This is the only code
 * that decides visibility from whiteouts and opaque markers.
 *
 * The algorithm, for NAME in directory PARENT:
 *   Branches are visited in priority order (0 first), but only those in
 *   which PARENT itself exists and is visible (PARENT's dfd[] entries: the
 *   resolution of PARENT already stopped at its own whiteouts).
 *   Whiteouts are looked for in every branch above the last one visited,
 *   whether or not it holds PARENT (the marker format is path-based).
 *   1. If the branch holds NAME and nothing was found yet, it is the top
 *      object.  A non-directory ends the search: it hides everything below.
 *   2. A directory found at the top merges with directories of the same
 *      name further down; the merge ends at the first non-directory below.
 *   3. After a branch is visited, a whiteout for NAME in that branch ends
 *      the search: it hides NAME (and, for a directory, its whole subtree)
 *      in every lower branch, but never in its own branch or above.  An
 *      overlay-format whiteout takes NAME's place in the branch itself and
 *      ends the search the same way; an opaque directory ends the merge.
 * With `want_lower`, the search also reports whether some lower branch
 * holds NAME behind the top object, which tells unlink/rmdir/rename
 * whether they must leave a whiteout.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ufs.h"

static int
last_branch(struct ufs_fs *fs, struct ufs_node *parent)
{
	for (int b = fs->nbr - 1; b >= 0; b--)
		if (ufs_node_dfd(parent, b) >= 0)
			return b;
	return -1;
}

/* Open NAME in branch b as a directory fd and store it in lk->dfd[b]. */
static int
add_dir(struct ufs_fs *fs, struct ufs_lookup *lk, int pfd, const char *name, int b)
{
	int fd;

	if (!lk->dfd) {
		lk->dfd = malloc(sizeof(int) * fs->nbr);
		if (!lk->dfd)
			return -ENOMEM;
		for (int i = 0; i < fs->nbr; i++)
			lk->dfd[i] = -1;
	}
	fd = br_openat(pfd, name, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	lk->dfd[b] = fd;
	return 0;
}

/* A directory found in branch b (not the last): opaque ends the merge. */
static int
add_dir_checked(struct ufs_fs *fs, struct ufs_lookup *lk, int pfd, const char *name, int b,
		bool last)
{
	int err = add_dir(fs, lk, pfd, name, b);

	if (err)
		return err;
	return !last && wo_dir_is_opaque(lk->dfd[b]) ? 1 : 0;
}

/* Visit branch b; returns 1 to stop, 0 to go on, or -errno. */
static int
visit(struct ufs_fs *fs, struct ufs_node *parent, const char *name, int b, bool last,
      bool want_lower, struct ufs_lookup *lk)
{
	int pfd = ufs_node_dfd(parent, b);
	struct stat st;
	int err;

	if (pfd < 0)
		return 0;
	err = br_fstatat(fs, pfd, name, &st);
	if (err == -ENOENT || err == -ENOTDIR)
		return 0;
	if (err)
		return err;
	/* An overlay whiteout hides the name here and below.  Empty files
	 * are only probed for the whiteout xattr where they could hide. */
	if ((S_ISCHR(st.st_mode) || (!last && S_ISREG(st.st_mode) && st.st_size == 0)) &&
	    wo_is_whiteout_entry(pfd, name, &st))
		return 1;
	if (lk->branch < 0) {
		lk->branch = b;
		lk->st = st;
		if (!S_ISDIR(st.st_mode))
			return want_lower ? 0 : 1;
		return add_dir_checked(fs, lk, pfd, name, b, last);
	}
	lk->lower = true;
	if (!S_ISDIR(lk->st.st_mode) || !S_ISDIR(st.st_mode))
		return 1;
	return add_dir_checked(fs, lk, pfd, name, b, last);
}

static int
resolve(struct ufs_fs *fs, struct ufs_node *parent, const char *name, int below,
	bool want_lower, struct ufs_lookup *lk)
{
	int last = last_branch(fs, parent), err = 0;

	lk->branch = -1;
	lk->dfd = NULL;
	lk->lower = false;
	lk->gen = atomic_load(&fs->rekey_gen);
	if (wo_is_tmp_name(name))
		return -ENOENT;	/* our own temporaries are never seen */
	for (int b = below + 1; b <= last; b++) {
		err = visit(fs, parent, name, b, b == last, want_lower, lk);
		if (err < 0 || err == 1)
			break;
		/* Markers are path-based: a branch can hide NAME even where it
		 * has no copy of PARENT. */
		if (b < last && wo_exists(fs, parent, b, name))
			break;
	}
	if (err < 0) {
		ufs_lookup_release(fs, lk);
		return err;
	}
	return lk->branch < 0 ? -ENOENT : 0;
}

int
ufs_resolve(struct ufs_fs *fs, struct ufs_node *parent, const char *name, struct ufs_lookup *lk)
{
	return resolve(fs, parent, name, -1, false, lk);
}

/* Resolve in the branches below `below` only, reporting lower copies. */
int
ufs_resolve_below(struct ufs_fs *fs, struct ufs_node *parent, const char *name, int below,
		  struct ufs_lookup *lk)
{
	return resolve(fs, parent, name, below, true, lk);
}

void
ufs_lookup_release(struct ufs_fs *fs, struct ufs_lookup *lk)
{
	if (!lk->dfd)
		return;
	for (int b = 0; b < fs->nbr; b++)
		if (lk->dfd[b] >= 0)
			close(lk->dfd[b]);
	free(lk->dfd);
	lk->dfd = NULL;
}
