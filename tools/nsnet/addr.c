/*
 * addr.c - parsing of addresses, CIDRs and NS:IF[=CIDR,...] endpoints.
 * Everything here is pure: it validates input before anything is touched.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "nsnet.h"

int
nn_parse_ip(const char *s, struct nn_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->bytes) == 1) {
		out->family = AF_INET;
		out->plen = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->bytes) == 1) {
		out->family = AF_INET6;
		out->plen = 128;
		return 0;
	}
	return -EINVAL;
}

int
nn_parse_cidr(const char *s, struct nn_addr *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	unsigned long plen;
	size_t n;

	if (!slash)
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n == 0 || n >= INET6_ADDRSTRLEN)
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (nn_parse_ip(buf, out) < 0)
		return -EINVAL;
	if (cm_parse_uint(slash + 1, out->family == AF_INET ? 32 : 128, &plen) < 0)
		return -EINVAL;
	/* Reject "/024"-style spellings that inet tools read differently. */
	if (slash[1] == '0' && slash[2] != '\0')
		return -EINVAL;
	out->plen = (unsigned char)plen;
	return 0;
}

void
nn_format_addr(const struct nn_addr *a, bool with_plen, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(a->family, a->bytes, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	if (with_plen)
		snprintf(buf, size, "%s/%u", ip, a->plen);
	else
		snprintf(buf, size, "%s", ip);
}

const char *
nn_check_ns(const char *name, bool allow_host)
{
	if (allow_host && !strcmp(name, NN_HOST))
		return NULL;
	return cm_check_netns_name(name);
}

const char *
nn_check_ns_lookup(const char *name)
{
	return cm_check_path_component(name);
}

/* Split "a,b,c" CIDRs into ep->addrs. */
static int
ep_parse_addrs(char *list, struct nn_ep *ep, const char **why)
{
	char *save = NULL;

	for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (ep->naddrs == NN_MAX_ADDRS) {
			*why = "too many addresses (max 8)";
			return -EINVAL;
		}
		if (nn_parse_cidr(tok, &ep->addrs[ep->naddrs]) < 0) {
			*why = "invalid address (expected A.B.C.D/LEN or IPv6/LEN)";
			return -EINVAL;
		}
		ep->naddrs++;
	}
	if (ep->naddrs == 0) {
		*why = "empty address list after '='";
		return -EINVAL;
	}
	return 0;
}

int
nn_parse_ep(const char *s, bool allow_addrs, struct nn_ep *ep, const char **why)
{
	char buf[NAME_MAX + IF_NAMESIZE + 512];
	char *colon, *eq;

	memset(ep, 0, sizeof(*ep));
	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf)) {
		*why = "argument too long";
		return -EINVAL;
	}
	/* The netns name may not contain ':' here; the interface never does. */
	colon = strchr(buf, ':');
	if (!colon) {
		*why = allow_addrs ? "expected NS:IF=CIDR" : "expected NS:IF";
		return -EINVAL;
	}
	*colon = '\0';
	eq = strchr(colon + 1, '=');
	if (eq)
		*eq = '\0';
	if (eq && !allow_addrs) {
		*why = "no address expected here (NS:IF)";
		return -EINVAL;
	}
	if ((*why = nn_check_ns(buf, true)) || (*why = cm_check_ifname(colon + 1)))
		return -EINVAL;
	/* Both lengths were just validated (<= 255 and <= 15 bytes). */
	memcpy(ep->ns, buf, strlen(buf) + 1);
	memcpy(ep->ifname, colon + 1, strlen(colon + 1) + 1);
	return eq ? ep_parse_addrs(eq + 1, ep, why) : 0;
}
