/*
 * v1lib.c - the cgroup v1 freezer through libcgroup 2.0.2.
 *
 * Pitfalls this file works around (see design/tools.md, section 3):
 *  - state writes use a *fresh* struct cgroup holding only freezer.state;
 *    "get, set, modify" would rewrite every file it loaded, including the
 *    read-only freezer.self_freezing;
 *  - libcgroup never waits for FREEZING to settle: freezer.c loops;
 *  - a missing group reads as ECGROUPVALUENOTEXIST, so callers check the
 *    directory first; ECGOTHER means "see cgroup_get_last_errno()";
 *  - cgroup_strerror(0) says "Cgroup is not compiled in": never call it for 0.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libcgroup.h>

#include "cgfreeze.h"

int
v1_lib_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case ECGOTHER: {
		int e = cgroup_get_last_errno();

		return e ? -e : -EIO;
	}
	case ECGROUPNOTEXIST:
	case ECGROUPVALUENOTEXIST:
		return -ENOENT;
	case ECGROUPNOTOWNER:
	case ECGROUPNOTALLOWED:
		return -EACCES;
	case ECGROUPNOTMOUNTED:
	case ECGROUPSUBSYSNOTMOUNTED:
	case ECGROUPNOTCOMPILED:
		return -EOPNOTSUPP;
	case ECGINVAL:
	case ECGFAIL:
	default:
		return -EIO;
	}
}

int
v1_lib_init(void)
{
	static bool done;
	int rc;

	if (done)
		return 0;
	rc = cgroup_init();
	if (rc)
		return v1_lib_err(rc);
	done = true;
	return 0;
}

/* libcgroup wants "/name"; our names are validated relative paths. */
static int
lib_path(const char *name, char *buf, size_t size)
{
	int n = snprintf(buf, size, "/%s", name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int
v1_lib_write_state(const char *name, const char *state)
{
	char path[PATH_MAX];
	struct cgroup *cg;
	struct cgroup_controller *ctrl;
	int rc, err = v1_lib_init();

	if (err == 0)
		err = lib_path(name, path, sizeof(path));
	if (err < 0)
		return err;
	cg = cgroup_new_cgroup(path);
	if (!cg)
		return -ENOMEM;
	ctrl = cgroup_add_controller(cg, "freezer");
	rc = ctrl ? cgroup_add_value_string(ctrl, "freezer.state", state) : ECGFAIL;
	if (rc == 0)
		rc = cgroup_modify_cgroup(cg);
	err = v1_lib_err(rc);
	cgroup_free(&cg);
	return err;
}

int
v1_lib_read(const char *name, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX];
	void *handle = NULL;
	int rc, err = v1_lib_init();

	if (err == 0)
		err = lib_path(name, path, sizeof(path));
	if (err < 0)
		return err;
	if (size > INT_MAX)
		size = INT_MAX;
	/* The name argument is not const in 2.0.2's prototype. */
	rc = cgroup_read_value_begin("freezer", path, (char *)file, &handle, buf, (int)size);
	if (rc == ECGEOF)
		buf[0] = '\0';
	else if (rc)
		return v1_lib_err(rc);
	if (handle)
		cgroup_read_value_end(&handle);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int
v1_lib_delete(const char *name)
{
	char path[PATH_MAX];
	struct cgroup *cg;
	int rc, err = v1_lib_init();

	if (err == 0)
		err = lib_path(name, path, sizeof(path));
	if (err < 0)
		return err;
	cg = cgroup_new_cgroup(path);
	if (!cg)
		return -ENOMEM;
	/* EMPTY_ONLY: never let libcgroup migrate tasks to the parent. */
	rc = cgroup_add_controller(cg, "freezer")
		 ? cgroup_delete_cgroup_ext(cg, CGFLAG_DELETE_EMPTY_ONLY)
		 : ECGFAIL;
	err = rc == ECGNONEMPTY ? -EBUSY : v1_lib_err(rc);
	cgroup_free(&cg);
	return err;
}

int
v1_lib_mount(const char *ctrl, char **mnt)
{
	char first[FILENAME_MAX];
	int rc, err = v1_lib_init();

	*mnt = NULL;
	if (err < 0)
		return err;
	snprintf(first, sizeof(first), "%.*s", (int)strcspn(ctrl, ","), ctrl);
	rc = cgroup_get_subsys_mount_point(first, mnt);
	if (rc == ECGROUPNOTEXIST || rc == ECGROUPSUBSYSNOTMOUNTED)
		return -ENODEV;
	return v1_lib_err(rc);
}

/* Length of path without trailing slashes ("/" counts as empty). */
static size_t
trimmed_len(const char *path)
{
	size_t len = strlen(path);

	while (len > 0 && path[len - 1] == '/')
		len--;
	return len;
}

/* Walk one hierarchy below path, lscgroup style: each group is printed as
 * the part of its full path after the mount point, with a leading '/'. */
static int
list_one(const char *ctrl, const char *ctrls, const char *path, v1_emit_fn emit, void *arg)
{
	struct cgroup_file_info info;
	char rel[PATH_MAX];
	void *handle = NULL;
	bool base = true;
	int lvl, rc;
	size_t skip;

	rc = cgroup_walk_tree_begin(ctrl, path, 0, &handle, &info, &lvl);
	if (rc)
		return rc == ECGEOF ? 0 : v1_lib_err(rc);
	skip = trimmed_len(info.full_path) - trimmed_len(path);
	do {
		if (info.type != CGROUP_FILE_TYPE_DIR)
			continue;
		snprintf(rel, sizeof(rel), "%s%s", info.full_path[skip] == '/' ? "" : "/",
			 info.full_path + skip);
		emit(ctrls, rel, base, arg);
		base = false;
	} while ((rc = cgroup_walk_tree_next(0, &handle, &info, lvl)) == 0);
	cgroup_walk_tree_end(&handle);
	return rc == ECGEOF ? 0 : v1_lib_err(rc);
}

/* One hierarchy being collected: its controllers joined with ','. */
struct hier {
	char ctrls[1024];
	char first[FILENAME_MAX]; /* the controller name to walk with */
	char mnt[FILENAME_MAX];
	bool wanted;
};

static void
hier_add(struct hier *h, const struct cgroup_mount_point *mp)
{
	size_t len = strlen(h->ctrls), nlen = strlen(mp->name);

	if (len + nlen + 2 > sizeof(h->ctrls))
		return; /* absurdly many controllers on one mount: keep the prefix */
	if (len)
		h->ctrls[len++] = ',';
	memcpy(h->ctrls + len, mp->name, nlen + 1);
}

static void
hier_start(struct hier *h, const struct cgroup_mount_point *mp)
{
	h->ctrls[0] = '\0';
	hier_add(h, mp);
	memcpy(h->first, mp->name, sizeof(h->first));
	memcpy(h->mnt, mp->path, sizeof(h->mnt));
	h->wanted = false;
}

/* Is name one of the comma-separated controllers in list? */
static bool
in_list(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, name, len) && (p[len] == ',' || p[len] == '\0'))
			return true;
	return false;
}

/* Controllers come grouped by mount point, as lscgroup prints them;
 * ctrl may name several, comma-separated, like lscgroup's argument. */
int
v1_lib_list(const char *ctrl, const char *path, v1_emit_fn emit, void *arg)
{
	struct cgroup_mount_point mp;
	struct hier h = {.wanted = false};
	bool found = false;
	void *handle = NULL;
	int rc, err = v1_lib_init();

	if (err < 0)
		return err;
	for (rc = cgroup_get_controller_begin(&handle, &mp); rc == 0 && err == 0;
	     rc = cgroup_get_controller_next(&handle, &mp)) {
		if (h.mnt[0] && !strcmp(h.mnt, mp.path)) {
			hier_add(&h, &mp);
		} else {
			if (h.wanted)
				err = list_one(h.first, h.ctrls, path, emit, arg);
			hier_start(&h, &mp);
		}
		if (!ctrl || in_list(ctrl, mp.name))
			h.wanted = found = true;
	}
	if (handle)
		cgroup_get_controller_end(&handle);
	if (err == 0 && rc != ECGEOF && rc != 0)
		err = v1_lib_err(rc);
	if (err == 0 && h.wanted)
		err = list_one(h.first, h.ctrls, path, emit, arg);
	if (err == 0 && ctrl && !found)
		err = -ENOENT;
	return err;
}
