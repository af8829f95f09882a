/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The allowlist match, one copy for the tunnel programs (bpf/tunnel.bpf.c,
 * on a connection's first packet) and for libtw (userspace/lib/flows.c,
 * re-checking admitted connections after an allowlist change): both look
 * the prefix up in the same LPM trie and hand its value here, so the two
 * can never disagree on what a rule admits. Code, not ABI; plain C that the
 * verifier accepts (a bounded loop over the rules).
 */
#ifndef TUNWARDEN_ACL_MATCH_H
#define TUNWARDEN_ACL_MATCH_H

#include <tunwarden/abi.h>

#ifdef __bpf__
#define TW_ACL_INLINE static __always_inline
#else
#include <stdbool.h>
#define TW_ACL_INLINE static inline __attribute__((always_inline))
#endif

/*
 * Does rule @r admit a packet of protocol @proto to destination @port (host
 * order; only read when @has_ports)? Portless protocols match a rule of
 * their protocol, or an any-protocol rule that does not restrict ports.
 */
TW_ACL_INLINE bool tw_acl_rule_match(const struct tw_port_rule *r, __u8 proto, bool has_ports,
				     __u16 port)
{
	if (r->proto != TW_PROTO_ANY && r->proto != proto)
		return false;
	if (!has_ports)
		return r->proto != TW_PROTO_ANY || (r->port_lo == 0 && r->port_hi == 0xffff);
	return port >= r->port_lo && port <= r->port_hi;
}

/* Does any rule of the prefix's value @v admit the packet? */
TW_ACL_INLINE bool tw_acl_match(const struct tw_acl_val *v, __u8 proto, bool has_ports, __u16 port)
{
	int i;

	for (i = 0; i < TW_ACL_RULES_PER_PREFIX; i++) {
		if (i >= v->nrules)
			break;
		if (tw_acl_rule_match(&v->rules[i], proto, has_ports, port))
			return true;
	}
	return false;
}

#undef TW_ACL_INLINE

#endif /* TUNWARDEN_ACL_MATCH_H */
