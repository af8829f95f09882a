/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Addresses and prefixes, for everyone: the dataplane library, the policy
 * parser, the daemon and the CLI. A leaf: pure functions over strings and
 * bytes, no I/O, nothing but libc and the ABI's family codes.
 */
#ifndef TW_ADDR_H
#define TW_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <tunwarden/abi.h>

struct tw_addr {
	uint8_t family; /* TW_FAM_V4 / TW_FAM_V6 */
	uint8_t addr[16]; /* IPv4 in the first 4 bytes, rest zero */
};

/* 32 or 128 */
static inline unsigned int tw_addr_bits(uint8_t family)
{
	return family == TW_FAM_V4 ? 32 : 128;
}

/* Parse "10.8.0.2" or "fd00::2" into @a. 0 or -EINVAL. */
int tw_addr_parse(const char *s, struct tw_addr *a);

/* Why tw_prefix_scan() refused a string (negated). */
enum tw_prefix_err {
	TW_PREFIX_EADDR = 1, /* not an IPv4 or IPv6 address */
	TW_PREFIX_ELEN = 2, /* nothing, or not a digit, after the '/' */
	TW_PREFIX_ERANGE = 3, /* a length that is not 0..32 / 0..128 in plain decimal */
	TW_PREFIX_EHOST = 4, /* bits set past the length: @a and @plen are filled */
};

/*
 * "10.0.0.0/8", "fd00::/8", or a bare address meaning one host (/32,
 * /128). The length is plain decimal: no sign, no space, no leading zero.
 * 0 or -enum tw_prefix_err.
 */
int tw_prefix_scan(const char *s, struct tw_addr *a, uint8_t *plen);
/* The same, any refusal as -EINVAL. */
int tw_prefix_parse(const char *s, struct tw_addr *a, uint8_t *plen);

/* Clear the bits of @addr (16 bytes) past the first @plen. */
void tw_addr_mask(uint8_t addr[16], unsigned int plen);

/* inet_ntop() of a family code and 16 address bytes; returns @buf. */
const char *tw_addr_str(uint8_t family, const uint8_t *addr, char *buf, size_t len);

#endif /* TW_ADDR_H */
