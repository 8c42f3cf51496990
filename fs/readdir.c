/*
 * readdir.c - the merged directory listing of one open directory.
 *
 * The listing is built once per open (and again on rewind): branches in
 * priority order, each name kept from the highest branch that shows it,
 * names whited out by a higher branch dropped, the meta directories dropped
 * from the root with hide_meta_files.  Offsets are indexes into the built
 * array, so they stay stable while the handle is open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ufs.h"

/* A name already placed (or hidden) in this listing. */
struct seen {
	UT_hash_handle hh;
	char name[];
};

struct build {
	struct ufs_fs *fs;
	struct ufs_dir *d;
	struct seen *seen;
	bool root;
	bool meta;		/* this is the root's .unionfs: hide the work area */
	bool stop_at_first;	/* emptiness check: one entry is enough */
	int err;
};

static bool
seen_add(struct build *bd, const char *name)
{
	struct seen *s;
	size_t len = strlen(name);

	HASH_FIND(hh, bd->seen, name, len, s);
	if (s)
		return false;
	s = malloc(sizeof(*s) + len + 1);
	if (!s) {
		bd->err = -ENOMEM;
		return false;
	}
	memcpy(s->name, name, len + 1);
	HASH_ADD_KEYPTR(hh, bd->seen, s->name, len, s);
	return true;
}

static void
hide_cb(void *ctx, const char *name)
{
	seen_add(ctx, name);
}

static int
dir_push(struct ufs_dir *d, const char *name, uint64_t ino, unsigned char type)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 32;
		struct ufs_dirent *e = realloc(d->ents, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		d->ents = e;
		d->cap = cap;
	}
	d->ents[d->n].name = strdup(name);
	if (!d->ents[d->n].name)
		return -ENOMEM;
	d->ents[d->n].ino = ino;
	d->ents[d->n].type = type;
	d->n++;
	return 0;
}

static bool
skip_name(struct build *bd, const char *name)
{
	if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
		return true;
	if (bd->meta)
		return !strcmp(name, UFS_WORK_DIR);
	if (wo_is_tmp_name(name))
		return true;
	/* With overlay-format whiteouts .unionfs holds only the work area. */
	return bd->root && (bd->fs->cfg.hide_meta || bd->fs->cfg.wo_overlay) &&
	       wo_is_meta_name(name);
}

static bool
is_meta_dir(struct ufs_fs *fs, struct ufs_node *n)
{
	return n->parent == fs->root && wo_is_meta_name(n->name);
}

/* Add the visible entries of one branch's copy of the directory. */
static int
list_branch(struct build *bd, int dfd)
{
	struct dirent *de;
	struct stat st;
	int fd = br_opendir_path(dfd, ".");
	DIR *dir;

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	if (fstat(fd, &st) < 0 || !(dir = fdopendir(fd))) {
		close(fd);
		return -errno;
	}
	bool xattr_wo = wo_dir_has_xattr_whiteouts(fd);
	struct ufs_dir hidden = { 0 };	/* whiteouts of this branch: they hide
					 * lower branches only, so apply after */

	while (!bd->err && (de = readdir(dir)) != NULL) {
		const char *hides;

		if (skip_name(bd, de->d_name))
			continue;
		switch (wo_entry_kind(fd, de->d_name, de->d_type, xattr_wo, &hides)) {
		case WO_KIND_WHITEOUT:
			bd->err = dir_push(&hidden, hides, 0, 0);
			continue;
		case WO_KIND_META:
			continue;
		}
		if (!seen_add(bd, de->d_name))
			continue;
		bd->err = dir_push(bd->d, de->d_name, ufs_ino_for(bd->fs, st.st_dev, de->d_ino),
				   de->d_type);
		if (bd->stop_at_first)
			break;
	}
	closedir(dir);
	for (size_t i = 0; i < hidden.n && !bd->err; i++)
		seen_add(bd, hidden.ents[i].name);
	ufs_dir_clear(&hidden);
	return bd->err;
}

static int
build(struct build *bd, struct ufs_node *n)
{
	struct ufs_fs *fs = bd->fs;
	int last = -1, err = 0;

	for (int b = 0; b < fs->nbr; b++)
		if (ufs_node_dfd(n, b) >= 0)
			last = b;
	for (int b = 0; b <= last && !err; b++) {
		int dfd = ufs_node_dfd(n, b);

		if (dfd >= 0)
			err = list_branch(bd, dfd);
		if (bd->stop_at_first && bd->d->n > 0)
			break;
		if (!err && b < last)
			wo_list(fs, n, b, hide_cb, bd);
		err = err ? err : bd->err;
	}
	struct seen *s, *tmp;

	HASH_ITER(hh, bd->seen, s, tmp) {
		HASH_DEL(bd->seen, s);
		free(s);
	}
	return err;
}

void
ufs_dir_clear(struct ufs_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->ents[i].name);
	free(d->ents);
	d->ents = NULL;
	d->n = d->cap = 0;
}

int
ufs_dir_load(struct ufs_fs *fs, struct ufs_node *n, struct ufs_dir *d)
{
	struct build bd = { .fs = fs, .d = d, .root = n == fs->root, .meta = is_meta_dir(fs, n) };

	ufs_dir_clear(d);
	return build(&bd, n);
}

int
ufs_dir_empty(struct ufs_fs *fs, struct ufs_node *n)
{
	struct ufs_dir d = { 0 };
	struct build bd = { .fs = fs, .d = &d, .root = n == fs->root, .meta = is_meta_dir(fs, n),
			    .stop_at_first = true };
	int err = build(&bd, n);

	if (!err && d.n > 0)
		err = -ENOTEMPTY;
	ufs_dir_clear(&d);
	return err;
}
