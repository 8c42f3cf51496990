/*
 * links.c - hard links stay one file across copy-up.
 *
 * When a file with several names on a read-only branch is copied up through
 * one name, its other names are linked to the upper copy in the same
 * operation, so every name in the union keeps showing one file (same
 * content, inode number and link count), also after a remount.  The names
 * of an inode are found with a map of the branch's multiply-linked files,
 * built by one walk of the branch the first time it is needed; read-only
 * branches do not change under the mount, so the map stays true.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ufs.h"

struct ufs_linkent {
	UT_hash_handle hh;
	uint64_t ino;
	size_t n;
	char **paths;
};

static int
map_add(struct ufs_linkent **map, uint64_t ino, const char *path)
{
	struct ufs_linkent *e;
	char **p;

	HASH_FIND(hh, *map, &ino, sizeof(ino), e);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->ino = ino;
		HASH_ADD(hh, *map, ino, sizeof(e->ino), e);
	}
	p = realloc(e->paths, (e->n + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	e->paths = p;
	e->paths[e->n] = strdup(path);
	return e->paths[e->n] ? (e->n++, 0) : -ENOMEM;
}

/* Record every multiply-linked regular file under dirfd (path prefix). */
static void
walk(struct ufs_linkent **map, int dirfd, const char *prefix)
{
	int fd = br_opendir_path(dirfd, ".");
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char *path;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    (!*prefix && wo_is_meta_name(de->d_name)))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "", de->d_name) < 0)
			break;
		if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
			map_add(map, st.st_ino, path);
		} else if (S_ISDIR(st.st_mode)) {
			int sub = br_openat(fd, de->d_name, O_PATH | O_DIRECTORY, 0);

			if (sub >= 0) {
				walk(map, sub, path);
				close(sub);
			}
		}
		free(path);
	}
	closedir(d);
}

void
lk_free(struct ufs_fs *fs)
{
	for (int b = 0; b < fs->nbr; b++) {
		struct ufs_linkent *e, *tmp;

		HASH_ITER(hh, fs->br[b].links, e, tmp) {
			HASH_DEL(fs->br[b].links, e);
			for (size_t i = 0; i < e->n; i++)
				free(e->paths[i]);
			free(e->paths);
			free(e);
		}
	}
}

/* Resolve a path from the union root to its parent directory node; the
 * nodes passed on the way are returned in chain[] (one lookup each). */
static int
walk_parent(struct ufs_fs *fs, char *path, struct ufs_node **chain, size_t *depth,
	    struct ufs_node **parent, char **last)
{
	struct ufs_node *cur = fs->root;
	char *save = NULL, *comp = strtok_r(path, "/", &save), *next;

	*depth = 0;
	for (; comp && (next = strtok_r(NULL, "/", &save)) != NULL; comp = next) {
		struct ufs_lookup lk;
		int err = ufs_resolve(fs, cur, comp, &lk);

		if (!err && !S_ISDIR(lk.st.st_mode))
			err = -ENOTDIR;
		if (err) {
			ufs_lookup_release(fs, &lk);
			return err;
		}
		cur = ufs_node_lookup(fs, cur, comp, &lk);
		ufs_lookup_release(fs, &lk);
		if (!cur || *depth == 64)
			return -ENOMEM;
		chain[(*depth)++] = cur;
	}
	*parent = cur;
	*last = comp;
	return comp ? 0 : -ENOENT;
}

/* Link one other name of the copied-up file (still the lower inode in the
 * union) to the upper copy at `upper` in branch t. */
static void
link_alias(struct ufs_fs *fs, const char *alias, const struct stat *lower, int t,
	   const struct ufs_loc *upper)
{
	struct ufs_node *chain[64], *parent;
	char *copy = strdup(alias), *last;
	struct ufs_lookup lk;
	size_t depth = 0;

	if (copy && walk_parent(fs, copy, chain, &depth, &parent, &last) == 0 &&
	    ufs_resolve(fs, parent, last, &lk) == 0) {
		bool same = lk.st.st_ino == lower->st_ino && lk.st.st_dev == lower->st_dev;

		ufs_lookup_release(fs, &lk);
		if (same && cu_dir_in_branch(fs, parent, t) == 0 &&
		    linkat(upper->dirfd, upper->name, ufs_node_dfd(parent, t), last, 0) < 0)
			ufs_log(UFS_LOG_WARN, "linking %s after copy-up: %s", alias,
				strerror(errno));
	}
	while (depth > 0)
		ufs_node_forget(fs, chain[--depth], 1);
	free(copy);
}

void
lk_link_aliases(struct ufs_fs *fs, const struct ufs_loc *upper, int from, int t,
		const struct stat *lower)
{
	struct ufs_branch *br = &fs->br[from];
	uint64_t ino = lower->st_ino;
	struct ufs_linkent *e;
	char *dir, *self = NULL;

	pthread_mutex_lock(&fs->dir_lock);
	if (!br->links_built) {
		walk(&br->links, br->fd, "");
		br->links_built = true;
	}
	HASH_FIND(hh, br->links, &ino, sizeof(ino), e);
	pthread_mutex_unlock(&fs->dir_lock);
	if (!e)
		return;
	/* The name the copy was made under: the node's own name may have
	 * moved to another of the file's names meanwhile. */
	dir = ufs_node_path(fs, upper->parent);
	if (dir && asprintf(&self, "%s%s%s", dir, *dir ? "/" : "", upper->name) < 0)
		self = NULL;
	free(dir);
	for (size_t i = 0; self && i < e->n; i++)
		if (strcmp(e->paths[i], self) != 0)
			link_alias(fs, e->paths[i], lower, t, upper);
	free(self);
}
