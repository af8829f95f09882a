// SPDX-License-Identifier: GPL-2.0-only
/* Addresses and prefixes: see tw_addr.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tw_addr.h"

int tw_addr_parse(const char *s, struct tw_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->addr) == 1) {
		a->family = TW_FAM_V4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->addr) == 1) {
		a->family = TW_FAM_V6;
		return 0;
	}
	return -EINVAL;
}

void tw_addr_mask(uint8_t addr[16], unsigned int plen)
{
	for (unsigned int i = 0; i < 16; i++) {
		if (plen >= (i + 1) * 8)
			continue;
		if (plen <= i * 8)
			addr[i] = 0;
		else
			addr[i] &= (uint8_t)(0xff << (8 - (plen - i * 8)));
	}
}

int tw_prefix_scan(const char *s, struct tw_addr *a, uint8_t *plen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	unsigned int bits, n = 0;
	uint8_t masked[16];
	const char *d;

	memset(a, 0, sizeof(*a));
	if (strlen(s) >= sizeof(buf))
		return -TW_PREFIX_EADDR;
	strcpy(buf, s);
	if (slash)
		buf[slash - s] = '\0';
	if (tw_addr_parse(buf, a))
		return -TW_PREFIX_EADDR;
	bits = tw_addr_bits(a->family);
	if (!slash) {
		n = bits;
	} else {
		if (slash[1] < '0' || slash[1] > '9')
			return -TW_PREFIX_ELEN;
		if (slash[1] == '0' && slash[2])
			return -TW_PREFIX_ERANGE;
		for (d = slash + 1; *d; d++) {
			if (*d < '0' || *d > '9' || n > bits)
				return -TW_PREFIX_ERANGE;
			n = n * 10 + (unsigned int)(*d - '0');
		}
		if (n > bits)
			return -TW_PREFIX_ERANGE;
	}
	*plen = (uint8_t)n;
	/* host bits set: a typo more often than intent */
	memcpy(masked, a->addr, 16);
	tw_addr_mask(masked, n);
	if (memcmp(masked, a->addr, 16))
		return -TW_PREFIX_EHOST;
	return 0;
}

int tw_prefix_parse(const char *s, struct tw_addr *a, uint8_t *plen)
{
	uint8_t n;

	if (tw_prefix_scan(s, a, &n))
		return -EINVAL;
	*plen = n;
	return 0;
}

const char *tw_addr_str(uint8_t family, const uint8_t *addr, char *buf, size_t len)
{
	if (!inet_ntop(family == TW_FAM_V4 ? AF_INET : AF_INET6, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}
