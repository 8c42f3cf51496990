/*
 * node.c - the node table: FUSE inode ids <-> nodes, lookup counts and
 * forget, parent references, and the st_ino numbers users see.
 *
 * A node's FUSE id is its address (the root is FUSE_ROOT_ID).  Nodes are
 * found by the (st_dev, st_ino) of the object they stand for, so hard links
 * share one node.  st_ino is derived from the backing inode (the first
 * device keeps its numbers unchanged, others get a device index in the top
 * bits), and the origin map keeps it unchanged after a copy-up.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ufs.h"

#define INO_DEV_SHIFT 48

static void node_free_chain(struct ufs_fs *fs, struct ufs_node *n);
static void alias_drop_all(struct ufs_fs *fs, struct ufs_node *n);

#define ALIAS_MAX 8	/* names remembered per file besides its own */

int
ufs_node_branch(struct ufs_node *n)
{
	return __atomic_load_n(&n->branch, __ATOMIC_ACQUIRE);
}

int
ufs_node_dfd(struct ufs_node *n, int b)
{
	return n->dfd && b >= 0 ? __atomic_load_n(&n->dfd[b], __ATOMIC_ACQUIRE) : -1;
}

/* Record a new per-branch directory fd; the node takes ownership.  Called
 * with table_lock held. */
void
ufs_node_set_dfd(struct ufs_node *n, int b, int fd)
{
	if (n->dfd[b] >= 0) {
		close(fd);	/* raced: keep the fd readers may already use */
		return;
	}
	__atomic_store_n(&n->dfd[b], fd, __ATOMIC_RELEASE);
}

void
ufs_node_set_branch(struct ufs_fs *fs, struct ufs_node *n, int b)
{
	pthread_mutex_lock(&fs->table_lock);
	__atomic_store_n(&n->branch, (int16_t)b, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fs->table_lock);
}

static void
drop_lower_locked(struct ufs_fs *fs, struct ufs_node *n, int keep)
{
	for (int b = 0; n->dfd && b < fs->nbr; b++) {
		int fd = n->dfd[b];
		int *r;

		if (b == keep || fd < 0)
			continue;
		r = realloc(fs->retired, (fs->nretired + 1) * sizeof(int));
		if (!r)
			break;
		fs->retired = r;
		fs->retired[fs->nretired++] = fd;
		__atomic_store_n(&n->dfd[b], -1, __ATOMIC_RELEASE);
	}
}

static bool
is_below(const struct ufs_node *n, const struct ufs_node *top)
{
	for (; n; n = n->parent)
		if (n == top)
			return true;
	return false;
}

/* After directory n moved away from its lower copies (complete in branch
 * keep), it and every directory below it show branch keep only. */
void
ufs_node_drop_lower(struct ufs_fs *fs, struct ufs_node *n, int keep)
{
	struct ufs_node *c, *tmp;

	pthread_mutex_lock(&fs->table_lock);
	drop_lower_locked(fs, n, keep);
	UFS_NODES_FOREACH(fs, c, tmp)
		if (c->dfd && c != n && is_below(c, n))
			drop_lower_locked(fs, c, keep);
	pthread_mutex_unlock(&fs->table_lock);
}

static uint64_t
ino_for_locked(struct ufs_fs *fs, dev_t dev, ino_t ino)
{
	uint64_t key[2] = { dev, ino };
	struct ufs_origin *o;
	int idx;

	HASH_FIND(hh, fs->origins, key, sizeof(key), o);
	if (o)
		return o->ino;
	for (idx = 0; idx < fs->ndevs; idx++)
		if (fs->devs[idx] == dev)
			break;
	if (idx == fs->ndevs && idx < (int)(sizeof(fs->devs) / sizeof(fs->devs[0])))
		fs->devs[fs->ndevs++] = dev;
	if ((uint64_t)ino >> INO_DEV_SHIFT || idx >= 0xffff)
		return atomic_fetch_add(&fs->next_ino, 1);
	return ((uint64_t)idx << INO_DEV_SHIFT) | (uint64_t)ino;
}

uint64_t
ufs_ino_for(struct ufs_fs *fs, dev_t dev, ino_t ino)
{
	uint64_t r;

	pthread_mutex_lock(&fs->table_lock);
	r = ino_for_locked(fs, dev, ino);
	pthread_mutex_unlock(&fs->table_lock);
	return r;
}

void
ufs_origin_add(struct ufs_fs *fs, const struct stat *upper, uint64_t ino)
{
	struct ufs_origin *o = calloc(1, sizeof(*o)), *old;

	if (!o)
		return;
	o->key[0] = upper->st_dev;
	o->key[1] = upper->st_ino;
	o->ino = ino;
	pthread_mutex_lock(&fs->table_lock);
	HASH_FIND(hh, fs->origins, o->key, sizeof(o->key), old);
	if (old) {
		old->ino = ino;
		free(o);
	} else {
		HASH_ADD(hh, fs->origins, key, sizeof(o->key), o);
	}
	pthread_mutex_unlock(&fs->table_lock);
}

/*
 * The node table: (st_dev, st_ino) -> node, chained buckets, as many
 * buckets as nodes at most.  One pointer in the node instead of uthash's
 * 56-byte handle: the table is the daemon's largest memory user.  Retired
 * nodes all have key {0, 0}.  table_lock held for all of these.
 */
#define NTAB_MIN 1024

static size_t
ntab_slot(const struct ufs_fs *fs, const uint64_t key[2])
{
	uint64_t h = key[0] * 0x9e3779b97f4a7c15ULL ^ key[1];

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return (size_t)h & fs->ntab_mask;
}

struct ufs_node *
ufs_node_find_locked(struct ufs_fs *fs, const uint64_t key[2])
{
	struct ufs_node *n = fs->ntab[ntab_slot(fs, key)];

	while (n && (n->key[0] != key[0] || n->key[1] != key[1]))
		n = n->hnext;
	return n;
}

/* Twice the buckets; without memory for them the chains just grow. */
static void
ntab_grow(struct ufs_fs *fs)
{
	size_t old = fs->ntab_mask + 1;
	struct ufs_node **tab = calloc(2 * old, sizeof(*tab)), **oldtab = fs->ntab;

	if (!tab)
		return;
	fs->ntab = tab;
	fs->ntab_mask = 2 * old - 1;
	for (size_t b = 0; b < old; b++)
		for (struct ufs_node *n = oldtab[b], *next; n; n = next) {
			size_t slot = ntab_slot(fs, n->key);

			next = n->hnext;
			n->hnext = tab[slot];
			tab[slot] = n;
		}
	free(oldtab);
}

static void
ntab_add(struct ufs_fs *fs, struct ufs_node *n)
{
	size_t slot;

	if (fs->nnodes > fs->ntab_mask)
		ntab_grow(fs);
	slot = ntab_slot(fs, n->key);
	n->hnext = fs->ntab[slot];
	fs->ntab[slot] = n;
	fs->nnodes++;
}

static void
ntab_del(struct ufs_fs *fs, struct ufs_node *n)
{
	struct ufs_node **pp = &fs->ntab[ntab_slot(fs, n->key)];

	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = n->hnext;
		fs->nnodes--;
	}
}

/* A node changes its key: out of the table and in again. */
static void
ntab_rekey(struct ufs_fs *fs, struct ufs_node *n, const uint64_t key[2])
{
	ntab_del(fs, n);
	memcpy(n->key, key, sizeof(n->key));
	ntab_add(fs, n);
}

int
ufs_nodes_init(struct ufs_fs *fs)
{
	struct ufs_node *root = calloc(1, sizeof(*root) + 1);
	pthread_mutexattr_t rec;
	struct stat st;

	pthread_mutexattr_init(&rec);
	pthread_mutexattr_settype(&rec, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&fs->rekey_lock, &rec);
	pthread_mutexattr_destroy(&rec);
	pthread_mutex_init(&fs->table_lock, NULL);
	pthread_mutex_init(&fs->dir_lock, NULL);
	pthread_mutex_init(&fs->handle_lock, NULL);
	pthread_mutex_init(&fs->dirs_lock, NULL);
	fs->handles.next = fs->handles.prev = &fs->handles;
	for (size_t i = 0; i < sizeof(fs->cu_locks) / sizeof(fs->cu_locks[0]); i++)
		pthread_mutex_init(&fs->cu_locks[i], NULL);
	atomic_init(&fs->next_ino, 1ULL << 63);
	fs->ntab = calloc(NTAB_MIN, sizeof(*fs->ntab));
	fs->ntab_mask = NTAB_MIN - 1;
	if (!root || !fs->ntab)
		goto fail;
	root->dfd = malloc(sizeof(int) * fs->nbr);
	if (!root->dfd)
		goto fail;
	for (int b = 0; b < fs->nbr; b++)
		root->dfd[b] = fcntl(fs->br[b].fd, F_DUPFD_CLOEXEC, 3);
	fstat(fs->br[0].fd, &st);
	root->key[0] = st.st_dev;
	root->key[1] = st.st_ino;
	root->ino = ino_for_locked(fs, st.st_dev, st.st_ino);
	root->name = root->first_name;
	root->nlookup = 1;
	root->mode = S_IFDIR;
	fs->root = root;
	return 0;
fail:
	free(root);
	return -1;
}

/* A node's name is stored with the node until a rename gives it another. */
static void
name_free(struct ufs_node *n, char *name)
{
	if (name != n->first_name)
		free(name);
}

static void
node_destroy(struct ufs_fs *fs, struct ufs_node *n)
{
	while (n->aliases) {
		struct ufs_alias *a = n->aliases;

		n->aliases = a->next;
		free(a);
	}
	if (n->dfd) {
		ufs_dir_forget(fs, n);
		for (int b = 0; b < fs->nbr; b++)
			if (n->dfd[b] >= 0)
				close(n->dfd[b]);
		free(n->dfd);
	}
	name_free(n, n->name);
	free(n);
}

void
ufs_nodes_destroy(struct ufs_fs *fs)
{
	struct ufs_node *n, *tmp;
	struct ufs_origin *o, *otmp;

	if (fs->ntab)
		UFS_NODES_FOREACH(fs, n, tmp)
			node_destroy(fs, n);
	free(fs->ntab);
	fs->ntab = NULL;
	fs->nnodes = 0;
	HASH_ITER(hh, fs->origins, o, otmp) {
		HASH_DEL(fs->origins, o);
		free(o);
	}
	if (fs->root)
		node_destroy(fs, fs->root);
	fs->root = NULL;
	for (size_t i = 0; i < fs->nretired; i++)
		close(fs->retired[i]);
	free(fs->retired);
	pthread_mutex_destroy(&fs->table_lock);
	pthread_mutex_destroy(&fs->dirs_lock);
	pthread_mutex_destroy(&fs->rekey_lock);
}

struct ufs_node *
ufs_node_get(struct ufs_fs *fs, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return fs->root;
	return (struct ufs_node *)(uintptr_t)ino;
}

/* Free n if nothing references it any more, then walk up: freeing a node
 * drops the reference it held on its parent.  table_lock held. */
static void
node_free_chain(struct ufs_fs *fs, struct ufs_node *n)
{
	while (n && n != fs->root && n->nlookup == 0 && n->refs == 0) {
		struct ufs_node *parent = n->parent;

		ntab_del(fs, n);
		alias_drop_all(fs, n);
		node_destroy(fs, n);
		if (parent)
			parent->refs--;
		n = parent;
	}
}

struct ufs_node *
ufs_node_parent(struct ufs_fs *fs, struct ufs_node *n)
{
	struct ufs_node *p;

	pthread_mutex_lock(&fs->table_lock);
	p = n->parent;
	if (p)
		p->refs++;
	pthread_mutex_unlock(&fs->table_lock);
	return p;
}

void
ufs_node_ref(struct ufs_fs *fs, struct ufs_node *n)
{
	pthread_mutex_lock(&fs->table_lock);
	n->refs++;
	pthread_mutex_unlock(&fs->table_lock);
}

/* Drop one reference on n, freeing what no longer has any.  table_lock held. */
static void
unref_locked(struct ufs_fs *fs, struct ufs_node *n)
{
	n->refs--;
	node_free_chain(fs, n);
}

void
ufs_node_unref(struct ufs_fs *fs, struct ufs_node *n)
{
	pthread_mutex_lock(&fs->table_lock);
	unref_locked(fs, n);
	pthread_mutex_unlock(&fs->table_lock);
}

/* Free an alias already unlinked from its list, with its parent reference. */
static void
alias_free(struct ufs_fs *fs, struct ufs_alias *a)
{
	unref_locked(fs, a->parent);
	free(a);
}

/* Remember (parent, name) as another name of n; takes over the caller's
 * reference on parent.  table_lock held. */
static void
alias_add(struct ufs_fs *fs, struct ufs_node *n, struct ufs_node *parent, const char *name)
{
	struct ufs_alias *a = malloc(sizeof(*a) + strlen(name) + 1), **pp;
	int count = 0;

	if (!a) {
		unref_locked(fs, parent);
		return;
	}
	a->parent = parent;
	strcpy(a->name, name);
	a->next = n->aliases;
	n->aliases = a;
	/* Past ALIAS_MAX, forget the oldest. */
	for (pp = &n->aliases; *pp && ++count <= ALIAS_MAX; pp = &(*pp)->next)
		;
	while (*pp) {
		struct ufs_alias *old = *pp;

		*pp = old->next;
		alias_free(fs, old);
	}
}

/* Forget the alias (parent, name) of n, if it has it.  table_lock held. */
static void
alias_del(struct ufs_fs *fs, struct ufs_node *n, struct ufs_node *parent, const char *name)
{
	for (struct ufs_alias **pp = &n->aliases; *pp; pp = &(*pp)->next) {
		struct ufs_alias *a = *pp;

		if (a->parent == parent && !strcmp(a->name, name)) {
			*pp = a->next;
			alias_free(fs, a);
			return;
		}
	}
}

static void
alias_drop_all(struct ufs_fs *fs, struct ufs_node *n)
{
	while (n->aliases) {
		struct ufs_alias *a = n->aliases;

		n->aliases = a->next;
		alias_free(fs, a);
	}
}

/* Point n at (parent, name); a file keeps its old name as an alias (a
 * hard link of it may still be known by that name).  table_lock held. */
static void
node_rename_locked(struct ufs_fs *fs, struct ufs_node *n, struct ufs_node *parent, char *name,
		   bool keep_old)
{
	struct ufs_node *old = n->parent;
	char *oldname = n->name;

	parent->refs++;		/* before alias_del, which may drop one */
	alias_del(fs, n, parent, name);
	n->parent = parent;
	n->name = name;
	if (keep_old && !S_ISDIR(n->mode)) {
		alias_add(fs, n, old, oldname);
	} else {
		unref_locked(fs, old);
	}
	name_free(n, oldname);
}

static struct ufs_node *
node_new(struct ufs_fs *fs, struct ufs_node *parent, const char *name, struct ufs_lookup *lk)
{
	size_t len = strlen(name) + 1;
	struct ufs_node *n = calloc(1, sizeof(*n) + len);

	if (!n)
		return NULL;
	n->name = memcpy(n->first_name, name, len);
	n->key[0] = lk->st.st_dev;
	n->key[1] = lk->st.st_ino;
	n->ino = ino_for_locked(fs, lk->st.st_dev, lk->st.st_ino);
	n->parent = parent;
	parent->refs++;
	n->branch = (int16_t)lk->branch;
	n->mode = lk->st.st_mode & S_IFMT;
	n->dfd = lk->dfd;
	lk->dfd = NULL;
	ntab_add(fs, n);
	return n;
}

/* Merge newly seen per-branch fds into an existing directory node. */
static void
node_merge_dfd(struct ufs_fs *fs, struct ufs_node *n, struct ufs_lookup *lk)
{
	if (!n->dfd || !lk->dfd)
		return;
	for (int b = 0; b < fs->nbr; b++) {
		if (lk->dfd[b] >= 0 && n->dfd[b] < 0) {
			ufs_node_set_dfd(n, b, lk->dfd[b]);
			lk->dfd[b] = -1;
		}
	}
}

static void
retire_locked(struct ufs_fs *fs, struct ufs_node *n)
{
	static const uint64_t retired[2];

	ntab_rekey(fs, n, retired);
}

void
ufs_node_retire(struct ufs_fs *fs, struct ufs_node *n)
{
	pthread_mutex_lock(&fs->table_lock);
	if (n != fs->root)
		retire_locked(fs, n);
	pthread_mutex_unlock(&fs->table_lock);
}

/* The node of a resolved object, NULL if none.  table_lock held. */
static struct ufs_node *
find_resolved_locked(struct ufs_fs *fs, const struct ufs_lookup *lk)
{
	uint64_t key[2] = { lk->st.st_dev, lk->st.st_ino };
	struct ufs_node *n = ufs_node_find_locked(fs, key);

	if (n)
		UFS_STAT_ADD(fs->cache_hits, 1);
	if (n && (n->mode != (lk->st.st_mode & S_IFMT))) {
		/* Inode number reused by a different object: retire the old node. */
		retire_locked(fs, n);
		n = NULL;
	}
	return n;
}

/* Did a copy-up's identity window overlap the resolve of lk?  Then lk may
 * show the object before the copy while its node has the new key (a second
 * node would split the object in two), or after it while the node still
 * has the old key, branch or names.  table_lock held. */
static bool
raced_copyup(struct ufs_fs *fs, const struct ufs_lookup *lk)
{
	return atomic_load(&fs->rekey_open) || atomic_load(&fs->rekey_gen) != lk->gen;
}

struct ufs_node *
ufs_node_lookup(struct ufs_fs *fs, struct ufs_node *parent, const char *name,
		struct ufs_lookup *lk)
{
	struct ufs_lookup again;
	bool settled = false;
	struct ufs_node *n;

	pthread_mutex_lock(&fs->table_lock);
	if (raced_copyup(fs, lk)) {
		/* Resolve again while no window is open (or only this thread's
		 * own: the lock is recursive); if the name is gone meanwhile,
		 * keep lk. */
		pthread_mutex_unlock(&fs->table_lock);
		pthread_mutex_lock(&fs->rekey_lock);
		settled = true;
		if (ufs_resolve(fs, parent, name, &again) == 0) {
			ufs_lookup_release(fs, lk);
			*lk = again;
		}
		pthread_mutex_lock(&fs->table_lock);
	}
	n = find_resolved_locked(fs, lk);
	if (n) {
		n->nlookup++;
		__atomic_store_n(&n->branch, (int16_t)lk->branch, __ATOMIC_RELEASE);
		node_merge_dfd(fs, n, lk);
		if (n->parent != parent || strcmp(n->name, name) != 0) {
			char *dup = strdup(name);

			if (dup)
				node_rename_locked(fs, n, parent, dup, true);
		}
	} else {
		n = node_new(fs, parent, name, lk);
		if (n)
			n->nlookup = 1;
	}
	pthread_mutex_unlock(&fs->table_lock);
	if (settled)
		pthread_mutex_unlock(&fs->rekey_lock);
	return n;
}

void
ufs_node_forget(struct ufs_fs *fs, struct ufs_node *n, uint64_t nlookup)
{
	pthread_mutex_lock(&fs->table_lock);
	n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
	node_free_chain(fs, n);
	pthread_mutex_unlock(&fs->table_lock);
}

/* After a copy-up the object lives elsewhere: index it by its new key. */
void
ufs_node_rekey(struct ufs_fs *fs, struct ufs_node *n, const struct stat *st)
{
	uint64_t key[2] = { st->st_dev, st->st_ino };
	struct ufs_node *other;

	pthread_mutex_lock(&fs->table_lock);
	if (n != fs->root) {
		other = ufs_node_find_locked(fs, key);
		if (!other)
			ntab_rekey(fs, n, key);
	}
	pthread_mutex_unlock(&fs->table_lock);
}

void
ufs_node_moved(struct ufs_fs *fs, struct ufs_node *n, struct ufs_node *oldparent,
	       const char *oldname, struct ufs_node *newparent, const char *newname)
{
	char *dup = strdup(newname);

	if (!dup)
		return;
	pthread_mutex_lock(&fs->table_lock);
	/* Moved by another of its names: the node's own name still holds. */
	alias_del(fs, n, oldparent, oldname);
	node_rename_locked(fs, n, newparent, dup,
			   n->parent != oldparent || strcmp(n->name, oldname) != 0);
	pthread_mutex_unlock(&fs->table_lock);
}

/* Does alias a still name n's file in n's branch? */
static bool
alias_valid(struct ufs_node *n, const struct ufs_alias *a)
{
	int dfd = ufs_node_dfd(a->parent, ufs_node_branch(n));
	struct stat st;

	return dfd >= 0 && fstatat(dfd, a->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       st.st_dev == n->key[0] && st.st_ino == n->key[1];
}

/* parent/name no longer names n's file.  table_lock held. */
static void
name_gone_locked(struct ufs_fs *fs, struct ufs_node *n, struct ufs_node *parent, const char *name)
{
	if (S_ISDIR(n->mode))
		return;
	alias_del(fs, n, parent, name);
	/* The first alias that still names the file becomes its name; the
	 * others that do not are dropped on the way. */
	while (n->aliases && n->parent == parent && !strcmp(n->name, name)) {
		struct ufs_alias *a = n->aliases;
		char *dup = alias_valid(n, a) ? strdup(a->name) : NULL;

		if (dup)
			node_rename_locked(fs, n, a->parent, dup, false);
		else
			alias_del(fs, n, a->parent, a->name);
	}
}

void
ufs_node_name_gone(struct ufs_fs *fs, struct ufs_node *parent, const char *name,
		   const struct stat *st)
{
	uint64_t key[2] = { st->st_dev, st->st_ino };
	struct ufs_node *n;

	pthread_mutex_lock(&fs->table_lock);
	n = ufs_node_find_locked(fs, key);
	if (n)
		name_gone_locked(fs, n, parent, name);
	pthread_mutex_unlock(&fs->table_lock);
}

void
ufs_node_replaced(struct ufs_fs *fs, struct ufs_node *n, struct ufs_node *parent,
		  const char *name)
{
	pthread_mutex_lock(&fs->table_lock);
	name_gone_locked(fs, n, parent, name);
	pthread_mutex_unlock(&fs->table_lock);
}

int
ufs_loc_get(struct ufs_fs *fs, struct ufs_node *n, int b, struct ufs_loc *loc)
{
	int err = 0;

	pthread_mutex_lock(&fs->table_lock);
	loc->parent = n->parent;
	if (!loc->parent) {
		loc->dirfd = ufs_node_dfd(n, b);
		strcpy(loc->name, ".");
	} else {
		loc->parent->refs++;
		loc->dirfd = ufs_node_dfd(loc->parent, b);
		strcpy(loc->name, n->name);
	}
	pthread_mutex_unlock(&fs->table_lock);
	if (loc->dirfd < 0) {
		ufs_loc_put(fs, loc);
		err = -ENOENT;
	}
	return err;
}

void
ufs_loc_put(struct ufs_fs *fs, struct ufs_loc *loc)
{
	if (loc->parent)
		ufs_node_unref(fs, loc->parent);
	loc->parent = NULL;
}

char *
ufs_node_path(struct ufs_fs *fs, struct ufs_node *n)
{
	size_t len = 0, off;
	char *path;

	pthread_mutex_lock(&fs->table_lock);
	for (struct ufs_node *p = n; p && p->parent; p = p->parent)
		len += strlen(p->name) + (p == n ? 0 : 1);
	path = malloc(len + 1);
	if (path) {
		off = len;
		path[len] = '\0';
		for (struct ufs_node *p = n; p && p->parent; p = p->parent) {
			size_t l = strlen(p->name);

			off -= l;
			memcpy(path + off, p->name, l);
			if (off > 0)
				path[--off] = '/';
		}
	}
	pthread_mutex_unlock(&fs->table_lock);
	return path;
}

void
ufs_fill_stat(struct ufs_fs *fs, struct ufs_node *n, struct stat *st)
{
	(void)fs;
	st->st_ino = n->ino;
}

int
ufs_node_stat(struct ufs_fs *fs, struct ufs_node *n, struct stat *st)
{
	struct ufs_loc loc;
	int err = ufs_loc_get(fs, n, ufs_node_branch(n), &loc);

	if (err)
		return err;
	err = br_fstatat(fs, loc.dirfd, loc.name, st);
	ufs_loc_put(fs, &loc);
	if (!err)
		ufs_fill_stat(fs, n, st);
	return err;
}
