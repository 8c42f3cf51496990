/*
 * whiteout.c - the on-disk whiteout format, behind one small interface.
 *
 * unionfs-fuse's format: BRANCH/.unionfs/PATH_HIDDEN~ hides PATH in the
 * branches below BRANCH.  The marker is a file for a deleted file and a
 * directory for a deleted directory; either kind hides the whole subtree
 * below PATH, which is what makes a directory re-created above it opaque.
 * The legacy meta directory name .unionfs-fuse is honoured when reading.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ufs.h"

#define SUFFIX_LEN (sizeof(UFS_HIDDEN_SUFFIX) - 1)

bool
wo_is_meta_name(const char *name)
{
	return !strcmp(name, UFS_META_DIR) || !strcmp(name, UFS_META_LEGACY);
}

/* "DIRPATH/NAME_HIDDEN~" relative to the meta directory; caller frees. */
static char *
marker_path(struct ufs_fs *fs, struct ufs_node *parent, const char *name)
{
	char *dir = ufs_node_path(fs, parent), *p = NULL;

	if (!dir)
		return NULL;
	if (asprintf(&p, "%s%s%s" UFS_HIDDEN_SUFFIX, dir, *dir ? "/" : "", name) < 0)
		p = NULL;
	free(dir);
	return p;
}

static bool
marker_at(int mfd, const char *path)
{
	struct stat st;

	return mfd >= 0 && fstatat(mfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

bool
wo_exists(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name)
{
	int mfd = br_metafd(fs, b, false), lfd = fs->br[b].legacyfd;
	bool found;
	char *path;

	if (mfd < 0 && lfd < 0)
		return false;
	path = marker_path(fs, parent, name);
	if (!path)
		return false;
	found = marker_at(mfd, path) || marker_at(lfd, path);
	free(path);
	return found;
}

int
wo_create(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name, bool dir)
{
	int mfd = br_metafd(fs, b, true), err = 0, fd;
	char *path, *slash;

	if (mfd < 0)
		return mfd;
	path = marker_path(fs, parent, name);
	if (!path)
		return -ENOMEM;
	slash = strrchr(path, '/');
	if (slash) {
		*slash = '\0';
		err = br_mkdirs_at(mfd, path, 0755);
		*slash = '/';
	}
	if (!err && dir) {
		if (mkdirat(mfd, path, 0755) < 0 && errno != EEXIST)
			err = -errno;
	} else if (!err) {
		fd = openat(mfd, path, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0)
			err = -errno;
		else
			close(fd);
	}
	free(path);
	return err;
}

int
wo_remove(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name)
{
	int mfd = br_metafd(fs, b, false), err;
	char *path;

	if (mfd < 0)
		return 0;
	path = marker_path(fs, parent, name);
	if (!path)
		return -ENOMEM;
	err = br_rmtree_at(mfd, path);
	free(path);
	return err;
}

void
wo_remove_subtree(struct ufs_fs *fs, struct ufs_node *parent, int b, const char *name)
{
	int mfd = br_metafd(fs, b, false);
	char *path;

	if (mfd < 0)
		return;
	path = marker_path(fs, parent, name);
	if (path) {
		path[strlen(path) - SUFFIX_LEN] = '\0';
		br_rmtree_at(mfd, path);
		free(path);
	}
}

static void
list_markers(int mfd, const char *dirpath, wo_list_cb cb, void *ctx)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if (mfd < 0)
		return;
	fd = br_opendir_path(mfd, *dirpath ? dirpath : ".");
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > SUFFIX_LEN && !strcmp(de->d_name + len - SUFFIX_LEN, UFS_HIDDEN_SUFFIX)) {
			de->d_name[len - SUFFIX_LEN] = '\0';
			cb(ctx, de->d_name);
		}
	}
	closedir(d);
}

void
wo_list(struct ufs_fs *fs, struct ufs_node *dir, int b, wo_list_cb cb, void *ctx)
{
	int mfd = br_metafd(fs, b, false), lfd = fs->br[b].legacyfd;
	char *path;

	if (mfd < 0 && lfd < 0)
		return;
	path = ufs_node_path(fs, dir);
	if (!path)
		return;
	list_markers(mfd, path, cb, ctx);
	list_markers(lfd, path, cb, ctx);
	free(path);
}
