// SPDX-License-Identifier: GPL-2.0-only
/* The portal's addresses for the unit's IPAddressAllow=: see netallow.h. */
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "netallow.h"

#define MAX_ADDRS 32

struct addrset {
	char a[MAX_ADDRS][INET6_ADDRSTRLEN];
	int n;
};

/* Loopback is allowed by the unit already. */
static bool is_loopback(int family, const void *addr)
{
	if (family == AF_INET)
		return (ntohl(((const struct in_addr *)addr)->s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)addr);
}

static void add(struct addrset *s, int family, const void *addr)
{
	char buf[INET6_ADDRSTRLEN];

	if (is_loopback(family, addr) || !inet_ntop(family, addr, buf, sizeof(buf)))
		return;
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->a[i], buf))
			return;
	if (s->n < MAX_ADDRS)
		strcpy(s->a[s->n++], buf);
}

/* "https://host[:port]/..." or "https://[v6]:port/...": the host, config.c checked the form. */
static int url_host(const char *url, char *host, size_t len)
{
	const char *h = strstr(url, "://"), *end;

	if (!h)
		return -EINVAL;
	h += 3;
	if (*h == '[') {
		end = strchr(++h, ']');
	} else {
		end = h + strcspn(h, ":/");
	}
	if (!end || end == h || (size_t)(end - h) >= len)
		return -EINVAL;
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	return 0;
}

/* The name servers of /etc/resolv.conf: a host name needs them. */
static void add_nameservers(struct addrset *s)
{
	char line[512], ns[256];
	unsigned char a[16];
	FILE *f = fopen("/etc/resolv.conf", "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " nameserver %255s", ns) != 1)
			continue;
		ns[strcspn(ns, "%")] = '\0'; /* fe80::1%eth0: the address */
		if (inet_pton(AF_INET, ns, a) == 1)
			add(s, AF_INET, a);
		else if (inet_pton(AF_INET6, ns, a) == 1)
			add(s, AF_INET6, a);
	}
	fclose(f);
}

int tw_netallow_print(const struct tw_config *c, FILE *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *p;
	struct addrset s = { .n = 0 };
	unsigned char a[16];
	char host[256];
	int r;

	if (c->portal.url[0]) {
		if (url_host(c->portal.url, host, sizeof(host))) {
			fprintf(stderr, "[portal] url %s: no host\n", c->portal.url);
			return -EINVAL;
		}
		if (inet_pton(AF_INET, host, a) == 1) {
			add(&s, AF_INET, a);
		} else if (inet_pton(AF_INET6, host, a) == 1) {
			add(&s, AF_INET6, a);
		} else if (strcmp(host, "localhost")) {
			r = getaddrinfo(host, NULL, &hints, &ai);
			if (r) {
				fprintf(stderr, "[portal] url: resolve %s: %s\n", host,
					gai_strerror(r));
				return -EHOSTUNREACH;
			}
			for (p = ai; p; p = p->ai_next) {
				if (p->ai_family == AF_INET)
					add(&s, AF_INET,
					    &((struct sockaddr_in *)p->ai_addr)->sin_addr);
				else if (p->ai_family == AF_INET6)
					add(&s, AF_INET6,
					    &((struct sockaddr_in6 *)p->ai_addr)->sin6_addr);
			}
			freeaddrinfo(ai);
			add_nameservers(&s);
		}
	}
	for (int i = 0; i < s.n; i++)
		fprintf(out, "%s%s", i ? " " : "", s.a[i]);
	fputc('\n', out);
	return 0;
}
