/*
 * readdir.c - merged directory listings.
 *
 * A listing is built from the branches in priority order: each name kept
 * from the highest branch that shows it, names whited out by a higher
 * branch dropped, the meta directories dropped from the root with
 * hide_meta_files.  Entries are sorted by a hash of their name, and that
 * hash is the entry's offset (as ext4's htree directories do).  So an
 * offset means the same place in every listing of the directory: a reader
 * that resumes in a rebuilt listing sees each unchanged entry exactly once,
 * whatever was added or removed meanwhile, and READDIR needs no handle.
 *
 * Built listings are immutable and shared by reference.  The cache keeps
 * the latest one of each directory while it is being read: a read from
 * offset 0 (a new open or a rewind) builds anew, the empty read at the end
 * or RELEASEDIR drops it, and a reader that finds none builds one; only the
 * offsets have to agree between listings, and they do.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
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
	bool merge;		/* branches above may hide or repeat names */
	int err;
};

/* Whether name is new to the listing; it is remembered unless `last`
 * (the last branch: nothing below can repeat it). */
static bool
seen_add(struct build *bd, const char *name, bool last)
{
	struct seen *s;
	size_t len = strlen(name);

	HASH_FIND(hh, bd->seen, name, len, s);
	if (s)
		return false;
	if (last)
		return true;
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
	seen_add(ctx, name, false);
}

/* The cache holds listings being read; one whose reader gave up early
 * stays until these limits push it out (the oldest first). */
#define DIRS_MAX 64
#define DIRS_BYTES_MAX (32u << 20)

/* The offset of a name: a 64-bit FNV-1a hash, mixed, cut to 62 bits and
 * kept clear of 0..2 (the start, "." and ".."). */
static uint64_t
name_off(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h >>= 2;
	return h < 3 ? h + 3 : h;
}

static int
dir_push(struct ufs_dir *d, const char *name, uint64_t ino, unsigned char type)
{
	size_t len = strlen(name) + 1;

	if (d->names_len + len > UINT32_MAX)
		return -EOVERFLOW;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 32;
		struct ufs_dirent *e = realloc(d->ents, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		d->ents = e;
		d->cap = cap;
	}
	if (d->names_len + len > d->names_cap) {
		size_t cap = d->names_cap ? d->names_cap * 2 : 1024;
		char *names;

		while (cap < d->names_len + len)
			cap *= 2;
		names = realloc(d->names, cap);
		if (!names)
			return -ENOMEM;
		d->names = names;
		d->names_cap = cap;
	}
	memcpy(d->names + d->names_len, name, len);
	d->ents[d->n] = (struct ufs_dirent){ .off = name_off(name), .ino = ino,
					     .name = (uint32_t)d->names_len, .type = type };
	d->names_len += len;
	d->n++;
	return 0;
}

static int
by_off(const void *a, const void *b, void *arg)
{
	const struct ufs_dirent *x = a, *y = b;
	const char *names = arg;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return strcmp(names + x->name, names + y->name);
}

/* Sort by offset; two names of one hash (about one in 2^62 pairs) get
 * neighbouring offsets, in name order. */
static void
dir_sort(struct ufs_dir *d)
{
	if (d->n < 2)
		return;
	qsort_r(d->ents, d->n, sizeof(*d->ents), by_off, d->names);
	for (size_t i = 1; i < d->n; i++)
		if (d->ents[i].off <= d->ents[i - 1].off)
			d->ents[i].off = d->ents[i - 1].off + 1;
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
list_branch(struct build *bd, int dfd, bool last)
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
			if (bd->merge && !last)
				bd->err = dir_push(&hidden, hides, 0, 0);
			continue;
		case WO_KIND_META:
			continue;
		}
		if (bd->merge && !seen_add(bd, de->d_name, last))
			continue;
		bd->err = dir_push(bd->d, de->d_name, ufs_ino_for(bd->fs, st.st_dev, de->d_ino),
				   de->d_type);
		if (bd->stop_at_first)
			break;
	}
	closedir(dir);
	for (size_t i = 0; i < hidden.n && !bd->err; i++)
		seen_add(bd, ufs_dirent_name(&hidden, i), false);
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
	/* Below the top branch, names may repeat or be whited out from above
	 * (by a branch's meta tree even where it has no such directory). */
	bd->merge = last > 0;
	for (int b = 0; b <= last && !err; b++) {
		int dfd = ufs_node_dfd(n, b);

		if (dfd >= 0)
			err = list_branch(bd, dfd, b == last);
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
	if (!err && !bd->stop_at_first)
		dir_sort(bd->d);
	return err;
}

void
ufs_dir_clear(struct ufs_dir *d)
{
	free(d->ents);
	free(d->names);
	d->ents = NULL;
	d->names = NULL;
	d->n = d->cap = d->names_len = d->names_cap = 0;
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

size_t
ufs_dir_seek(const struct ufs_dir *d, uint64_t off)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->ents[mid].off <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void
ufs_dir_put(struct ufs_dir *d)
{
	if (d && atomic_fetch_sub(&d->refs, 1) == 1) {
		ufs_dir_clear(d);
		free(d);
	}
}

static size_t
dir_bytes(const struct ufs_dir *d)
{
	return sizeof(*d) + d->cap * sizeof(*d->ents) + d->names_cap;
}

/* Take d out of the cache (dirs_lock held); the cache's reference goes. */
static void
uncache(struct ufs_fs *fs, struct ufs_dir *d)
{
	HASH_DEL(fs->dirs, d);
	fs->dirs_bytes -= dir_bytes(d);
	ufs_dir_put(d);
}

struct ufs_dir *
ufs_dir_get(struct ufs_fs *fs, struct ufs_node *n, bool fresh, int *err)
{
	struct ufs_dir *d = NULL, *old;

	if (!fresh) {
		pthread_mutex_lock(&fs->dirs_lock);
		HASH_FIND_PTR(fs->dirs, &n, d);
		if (d)
			atomic_fetch_add(&d->refs, 1);
		pthread_mutex_unlock(&fs->dirs_lock);
		if (d)
			return d;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = ufs_dir_load(fs, n, d);
	if (*err) {
		ufs_dir_clear(d);	/* not shared yet: no references */
		free(d);
		return NULL;
	}
	d->node = n;
	d->refs = 2;		/* the caller's and the cache's */
	pthread_mutex_lock(&fs->dirs_lock);
	HASH_FIND_PTR(fs->dirs, &n, old);
	if (old)
		uncache(fs, old);
	while (fs->dirs && (HASH_COUNT(fs->dirs) >= DIRS_MAX ||
			    fs->dirs_bytes + dir_bytes(d) > DIRS_BYTES_MAX))
		uncache(fs, fs->dirs);	/* the oldest */
	HASH_ADD_PTR(fs->dirs, node, d);
	fs->dirs_bytes += dir_bytes(d);
	pthread_mutex_unlock(&fs->dirs_lock);
	return d;
}

void
ufs_dir_done(struct ufs_fs *fs, struct ufs_dir *d)
{
	struct ufs_dir *cur;

	pthread_mutex_lock(&fs->dirs_lock);
	HASH_FIND_PTR(fs->dirs, &d->node, cur);
	if (cur == d)
		uncache(fs, d);
	pthread_mutex_unlock(&fs->dirs_lock);
}

void
ufs_dir_forget(struct ufs_fs *fs, struct ufs_node *n)
{
	struct ufs_dir *d;

	pthread_mutex_lock(&fs->dirs_lock);
	HASH_FIND_PTR(fs->dirs, &n, d);
	if (d)
		uncache(fs, d);
	pthread_mutex_unlock(&fs->dirs_lock);
}

void
ufs_dir_forget_all(struct ufs_fs *fs)
{
	struct ufs_dir *d, *tmp;

	pthread_mutex_lock(&fs->dirs_lock);
	HASH_ITER(hh, fs->dirs, d, tmp)
		uncache(fs, d);
	pthread_mutex_unlock(&fs->dirs_lock);
}
