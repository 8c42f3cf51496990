/*
 * list.c - `nsnet list`: every name under /run/netns with its nsid, inode,
 * the processes inside and its links with their addresses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "nsnet.h"
#include "nl.h"

struct li_link {
	struct nl_link link;
	struct nn_addr addrs[NN_MAX_ADDRS];
	int naddrs;
};

/* What we learned about one entry; fields stay empty when unknown. */
struct li_ns {
	const char *name;
	bool stale, links_known;
	int nsid;
	unsigned long long ino;
	pid_t *pids;
	size_t npids;
	struct li_link *links;
	size_t nlinks;
};

static int
li_link_cb(const struct nl_link *link, void *data)
{
	struct li_ns *ns = data;
	struct li_link *v = realloc(ns->links, (ns->nlinks + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	ns->links = v;
	memset(&v[ns->nlinks], 0, sizeof(v[0]));
	v[ns->nlinks++].link = *link;
	return 0;
}

/* Keep the addresses worth showing: not IPv6 link-local, not on lo. */
static int
li_addr_cb(int index, const struct nn_addr *a, void *data)
{
	struct li_ns *ns = data;

	if (a->family == AF_INET6 && a->bytes[0] == 0xfe && (a->bytes[1] & 0xc0) == 0x80)
		return 0;
	for (size_t i = 0; i < ns->nlinks; i++) {
		struct li_link *l = &ns->links[i];

		if (l->link.index == index && strcmp(l->link.name, "lo") &&
		    l->naddrs < NN_MAX_ADDRS)
			l->addrs[l->naddrs++] = *a;
	}
	return 0;
}

static void
li_links(struct li_ns *ns, int fd)
{
	struct nl_sock nl;

	/* Needs setns (root); without it the links are simply unknown. */
	if (nl_open_in(&nl, fd) < 0)
		return;
	if (nl_link_dump(&nl, li_link_cb, ns) == 0 && nl_addr_dump(&nl, li_addr_cb, ns) == 0)
		ns->links_known = true;
	nl_close(&nl);
}

static void
li_gather(struct li_ns *ns, struct nl_sock *home)
{
	struct stat st;
	int fd = ns_open(ns->name);

	ns->nsid = -1;
	if (fd < 0) {
		ns->stale = fd == -ESTALE;
		return;
	}
	if (fstat(fd, &st) == 0) {
		ns->ino = st.st_ino;
		proc_net_pids(st.st_dev, st.st_ino, &ns->pids, &ns->npids);
	}
	if (home) {
		int id = nl_nsid_get(home, fd);

		ns->nsid = id >= 0 ? id : -1;
	}
	li_links(ns, fd);
	close(fd);
}

static void
li_free(struct li_ns *ns)
{
	free(ns->pids);
	free(ns->links);
}

static void
li_json_link(struct cm_json *j, const struct li_link *l)
{
	char buf[64];

	cm_json_obj_begin(j);
	cm_json_key(j, "name");
	cm_json_str(j, l->link.name);
	cm_json_key(j, "kind");
	cm_json_str(j, l->link.kind[0] ? l->link.kind : NULL);
	cm_json_key(j, "up");
	cm_json_bool(j, l->link.flags & IFF_UP);
	cm_json_key(j, "addresses");
	cm_json_arr_begin(j);
	for (int i = 0; i < l->naddrs; i++) {
		nn_format_addr(&l->addrs[i], true, buf, sizeof(buf));
		cm_json_str(j, buf);
	}
	cm_json_arr_end(j);
	cm_json_obj_end(j);
}

static void
li_json_ns(struct cm_json *j, const struct li_ns *ns)
{
	cm_json_obj_begin(j);
	cm_json_key(j, "name");
	cm_json_str(j, ns->name);
	cm_json_key(j, "id");
	ns->nsid >= 0 ? cm_json_int(j, ns->nsid) : cm_json_null(j);
	cm_json_key(j, "inode");
	ns->ino ? cm_json_uint(j, ns->ino) : cm_json_null(j);
	cm_json_key(j, "pids");
	cm_json_arr_begin(j);
	for (size_t i = 0; i < ns->npids; i++)
		cm_json_int(j, ns->pids[i]);
	cm_json_arr_end(j);
	cm_json_key(j, "links");
	if (ns->links_known) {
		cm_json_arr_begin(j);
		for (size_t i = 0; i < ns->nlinks; i++)
			li_json_link(j, &ns->links[i]);
		cm_json_arr_end(j);
	} else {
		cm_json_null(j);
	}
	cm_json_key(j, "stale");
	cm_json_bool(j, ns->stale);
	cm_json_obj_end(j);
}

/* "lo tap1=192.168.1.1/24,fd00::1/64": the NS:IF=CIDR spelling. */
static void
li_text_links(FILE *out, const struct li_ns *ns)
{
	char buf[64];

	if (!ns->links_known) {
		fputs(ns->stale ? "-" : "?", out);
		return;
	}
	for (size_t i = 0; i < ns->nlinks; i++) {
		const struct li_link *l = &ns->links[i];

		fprintf(out, "%s%s%s", i ? " " : "", l->link.name,
			l->link.flags & IFF_UP ? "" : "(down)");
		for (int k = 0; k < l->naddrs; k++) {
			nn_format_addr(&l->addrs[k], true, buf, sizeof(buf));
			fprintf(out, "%c%s", k ? ',' : '=', buf);
		}
	}
}

static void
li_text_row(const struct li_ns *ns, int width)
{
	char id[16] = "-", ino[24] = "stale", pids[64] = "-";
	size_t off = 0;

	if (ns->nsid >= 0)
		snprintf(id, sizeof(id), "%d", ns->nsid);
	if (ns->ino)
		snprintf(ino, sizeof(ino), "%llu", ns->ino);
	else if (!ns->stale)
		snprintf(ino, sizeof(ino), "?");
	for (size_t i = 0; i < ns->npids && off + 16 < sizeof(pids); i++)
		off += (size_t)snprintf(pids + off, sizeof(pids) - off, "%s%d", i ? "," : "",
					(int)ns->pids[i]);
	if (ns->npids && off + 16 >= sizeof(pids))
		snprintf(pids + off, sizeof(pids) - off, ",...");
	printf("%-*s  %-4s  %-11s  %-11s  ", width, ns->name, id, ino, pids);
	li_text_links(stdout, ns);
	putchar('\n');
}

static void
li_print(struct li_ns *v, size_t n, const struct nn_opts *o)
{
	struct cm_json j;
	int width = 4;

	if (o->json) {
		cm_json_init(&j, stdout);
		cm_json_arr_begin(&j);
		for (size_t i = 0; i < n; i++)
			li_json_ns(&j, &v[i]);
		cm_json_arr_end(&j);
		cm_json_end(&j);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if ((int)strlen(v[i].name) > width)
			width = (int)strlen(v[i].name);
	printf("%-*s  %-4s  %-11s  %-11s  %s\n", width, "NAME", "ID", "INODE", "PIDS", "LINKS");
	for (size_t i = 0; i < n; i++)
		li_text_row(&v[i], width);
}

int
cmd_list(int argc, char **argv, const struct nn_opts *o)
{
	struct nl_sock home;
	struct li_ns *v;
	char **names;
	size_t n;
	int err = ns_names(&names, &n);
	bool have_home;

	(void)argc, (void)argv;
	if (err < 0)
		return nn_fail("list", NN_RUN_DIR, -err, NULL);
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		ns_names_free(names, n);
		return nn_fail("list", NN_RUN_DIR, ENOMEM, NULL);
	}
	have_home = nl_open(&home) == 0;
	for (size_t i = 0; i < n; i++) {
		v[i].name = names[i];
		li_gather(&v[i], have_home ? &home : NULL);
	}
	if (have_home)
		nl_close(&home);
	li_print(v, n, o);
	for (size_t i = 0; i < n; i++)
		li_free(&v[i]);
	free(v);
	ns_names_free(names, n);
	return 0;
}
