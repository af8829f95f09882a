// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Admission and accounting on a tunnel interface (OpenVPN tun, WireGuard,
 * strongSwan): tw_tun_in runs on TC ingress (packets from clients),
 * tw_tun_out on TC egress (packets to clients).
 *
 * fast path, every packet: parse -> the connection in tw1_flows4 / tw1_flows6
 *   (one hash lookup, both directions) -> the client's slot still the same session and
 *   not banned -> tenant re-check only if a client address was installed
 *   since -> count -> pass
 * slow path, a connection's first packet: client lookup by tunnel address
 *   -> state -> tenant isolation -> allowlist (PERMIT: from-client or
 *   to-client list; SANDBOX: sandbox list, nothing unsolicited) -> open the
 *   connection -> count -> pass
 *
 * Pass is TC_ACT_UNSPEC (tcx: TCX_NEXT) so programs attached after ours
 * still run; drop is TC_ACT_SHOT.
 *
 * Fragments: a first fragment is checked like any packet; when admitted it
 * records its tuple with zero ports so the later fragments of the datagram
 * (which carry no ports) pass. A later fragment with no admitted first
 * fragment is dropped as TW_DROP_FRAGMENT. Tunnels reassemble rarely, and
 * fragments arrive in order on a point-to-point link, so this costs nothing
 * in practice and never lets an unchecked port through.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <tunwarden/abi.h>
#include <tunwarden/acl_match.h>
#include "lib/uapi.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/counters.h"
#include "lib/connkey.h"
#include "lib/flow_cache.h"

/* Load-time knobs, set through the skeleton's rodata. */
const volatile __u32 tw_l3_off = 0; /* 0 on tun/wg, 14 on tap/veth and PROG_TEST_RUN */
const volatile __u64 tw_flow_timeout_ns = 300ULL * 1000000000ULL;
const volatile __u8 tw_pass_arp = 1; /* L2 offset only: ARP passes uncounted */
/* Nanoseconds per jiffy (10^9 / CONFIG_HZ), set by libtw when it knows the
 * kernel's HZ. The flow clock is then bpf_jiffies64() * tw_jiffy_ns: the
 * verifier inlines bpf_jiffies64() to one load, where the coarse clock is a
 * helper call reading the timekeeper under its seqcount (15 ns a packet on
 * the machine benchmarked). 0: bpf_ktime_get_coarse_ns(). Both advance once
 * a tick; only differences of one clock are ever compared. */
const volatile __u64 tw_jiffy_ns = 0;

/* A flow's timestamp is refreshed at most every TW_FLOW_REFRESH_NS
 * (lib/flow_cache.h), and at least twice per timeout, so that a configured timeout under
 * two seconds still keeps a live flow open. */
static __always_inline bool tw_flow_refresh_due(__u64 age)
{
	return age > TW_FLOW_REFRESH_NS || age > tw_flow_timeout_ns / 2;
}

static __always_inline __u64 tw_now(void)
{
	if (tw_jiffy_ns)
		return bpf_jiffies64() * tw_jiffy_ns;
	return bpf_ktime_get_coarse_ns();
}

struct tw_ctx {
	struct tw_pkt p;
	__u32 slot;
	struct tw_slot *cl;
	int dir;
	__u64 addr_gen;
};

static __always_inline int tw_parse(struct __sk_buff *skb, struct tw_pkt *p)
{
	struct tw_cursor c;
	__u32 off = tw_l3_off;
	__u8 ver;

	tw_cursor_skb(&c, skb, off);
	if (off) {
		__u16 proto;

		if (tw_cursor_load(&c, 12, &proto, 2))
			return -TW_DROP_MALFORMED;
		proto = bpf_ntohs(proto);
		if (proto == ETH_P_ARP_ && tw_pass_arp)
			return 1;
		if (proto == ETH_P_IP_)
			return tw_parse_v4(&c, p);
		if (proto == ETH_P_IPV6_)
			return tw_parse_v6(&c, p);
		return -TW_DROP_MALFORMED;
	}
	/* L3 tunnel: the version nibble is the only protocol indication. */
	if (tw_cursor_load(&c, 0, &ver, 1))
		return -TW_DROP_MALFORMED;
	ver >>= 4;
	if (ver == 4)
		return tw_parse_v4(&c, p);
	if (ver == 6)
		return tw_parse_v6(&c, p);
	return -TW_DROP_MALFORMED;
}

static __always_inline void tw_client_key(struct tw_client_key *k, __u32 ifindex, __u8 family,
					  const __u8 *addr)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->ifindex = ifindex;
	k->family = family;
	if (family == TW_FAM_V4)
		__builtin_memcpy(k->addr, addr, 4);
	else
		__builtin_memcpy(k->addr, addr, 16);
}

/*
 * A connection as both directions name it: the interface, the client's
 * address and port, the remote address and port. IPv4 connections live in
 * tw1_flows4 (20-byte key), IPv6 ones in tw1_flows6 (44 bytes): the map
 * hashes and compares the whole key on every packet. Its key is built as
 * words (lib/connkey.h) by tw_connkey_build(), and stored to the stack only
 * for a map call.
 */

/* The key of the connection a packet belongs to, from what it carries. */
static __always_inline void tw_connkey_of(__u32 *w, const struct tw_pkt *p, __u32 ifindex, int dir,
					  __u8 kind)
{
	/* a later IPv6 fragment names the header after the fragment header,
	 * which may be an extension header: the first fragment records that;
	 * a fragment entry has no ports */
	tw_connkey_build(w, ifindex, p->family, kind == TW_FLOW_FRAG ? p->frag_proto : p->proto,
			 kind, kind == TW_FLOW_CONN ? tw_ports_of(p->ports, dir) : 0,
			 dir == TW_DIR_FROM_CLIENT ? p->saddr : p->daddr,
			 dir == TW_DIR_FROM_CLIENT ? p->daddr : p->saddr);
}

/* Two call sites, one per map: the verifier inlines a lookup only where
 * a call site always sees the same map. */
static __always_inline struct tw_flow_val *tw_conn_get(__u8 family, const __u32 *w)
{
	if (family == TW_FAM_V4) {
		struct tw_flow4_key k;

		tw_connkey_store(&k, w, TW_CONNKEY4_WORDS);
		return bpf_map_lookup_elem(&tw1_flows4, &k);
	} else {
		struct tw_flow6_key k;

		tw_connkey_store(&k, w, TW_CONNKEY6_WORDS);
		return bpf_map_lookup_elem(&tw1_flows6, &k);
	}
}

/*
 * Opening a connection, once per connection. One subprogram per map: when
 * both updates were inlined, clang merged them into one call site fed with
 * either map, and the verifier then falls back to the generic (indirect)
 * update for both.
 */
static __noinline int tw_conn_put4(const __u32 *w, const struct tw_flow_val *v)
{
	struct tw_flow4_key k;

	tw_connkey_store(&k, w, TW_CONNKEY4_WORDS);
	return bpf_map_update_elem(&tw1_flows4, &k, v, BPF_ANY);
}

static __noinline int tw_conn_put6(const __u32 *w, const struct tw_flow_val *v)
{
	struct tw_flow6_key k;

	tw_connkey_store(&k, w, TW_CONNKEY6_WORDS);
	return bpf_map_update_elem(&tw1_flows6, &k, v, BPF_ANY);
}

static __always_inline int tw_conn_put(__u8 family, const __u32 *w, const struct tw_flow_val *v)
{
	return family == TW_FAM_V4 ? tw_conn_put4(w, v) : tw_conn_put6(w, v);
}

static __always_inline __u64 tw_addr_gen(void)
{
	__u32 zero = 0;
	struct tw_ctl *ctl = bpf_map_lookup_elem(&tw1_ctl, &zero);

	return ctl ? ctl->addr_gen : 0;
}

static __always_inline void tw_flow_record(struct tw_ctx *c, __u32 ifindex, __u8 kind)
{
	struct tw_flow_val v = {
		.last_seen_ns = tw_now(),
		.slot = c->slot,
		.gen = c->cl->gen,
		.addr_gen = c->addr_gen,
		.opened = (__u8)c->dir,
	};
	__u32 w[TW_CONNKEY6_WORDS];

	tw_connkey_of(w, &c->p, ifindex, c->dir, kind);
	if (tw_conn_put(c->p.family, w, &v) == 0 && kind == TW_FLOW_CONN)
		tw_gcount(TW_G_FLOW_NEW, 0, 1);
}

/* 0 if the allowlist @list of the client's profile admits the packet. */
static __always_inline int tw_acl_check(const struct tw_ctx *c, __u8 list, __u32 miss_reason)
{
	const struct tw_pkt *p = &c->p;
	__u32 profile = c->cl->profile;
	struct tw_acl_key k;
	struct tw_acl_val *v;
	void *inner;

	inner = bpf_map_lookup_elem(&tw1_acl, &profile);
	if (!inner)
		return -TW_DROP_NO_PROFILE;

	__builtin_memset(&k, 0, sizeof(k));
	k.list = list;
	k.family = p->family;
	/* to client: the remote end is the source; from client: the destination */
	if (p->family == TW_FAM_V4)
		__builtin_memcpy(k.addr, c->dir == TW_DIR_TO_CLIENT ? p->saddr : p->daddr, 4);
	else
		__builtin_memcpy(k.addr, c->dir == TW_DIR_TO_CLIENT ? p->saddr : p->daddr, 16);
	k.prefixlen = TW_ACL_KEY_FIXED_BITS + (p->family == TW_FAM_V4 ? 32 : 128);

	v = bpf_map_lookup_elem(inner, &k);
	if (!v || !tw_acl_match(v, p->proto, p->has_ports, bpf_ntohs(p->dport)))
		return -(int)miss_reason;
	return 0;
}

/* Peer on the far side of the packet: a client of another tenant? */
static __always_inline int tw_tenant_check(const struct tw_ctx *c)
{
	const __u8 *peer = c->dir == TW_DIR_FROM_CLIENT ? c->p.daddr : c->p.saddr;
	struct tw_client_key k;
	struct tw_slot *pc;
	__u32 *pslot;

	tw_client_key(&k, 0, c->p.family, peer);
	pslot = bpf_map_lookup_elem(&tw1_clients, &k);
	if (!pslot || *pslot == c->slot)
		return 0;
	pc = bpf_map_lookup_elem(&tw1_slots, pslot);
	if (!pc || pc->state == TW_STATE_FREE)
		return 0;
	/* tenant 0 means "no tenant": isolated from everyone */
	if (pc->tenant != c->cl->tenant || c->cl->tenant == 0)
		return -TW_DROP_TENANT;
	return 0;
}

/*
 * An ICMP error about a packet of one of this client's admitted connections
 * passes with it: path MTU discovery (fragmentation needed, packet too big)
 * and unreachables must reach the end that sent the packet. The quoted
 * packet went the other way: from the client when the error travels to it.
 */
static __always_inline bool tw_related_open(const struct tw_ctx *c, __u32 ifindex)
{
	const struct tw_pkt *p = &c->p;
	bool to = c->dir == TW_DIR_TO_CLIENT;
	struct tw_flow_val *v;
	__u32 w[TW_CONNKEY6_WORDS];

	if (!p->related)
		return false;
	/* the quoted packet went the other way: from the client when the
	 * error travels to it */
	tw_connkey_build(w, ifindex, p->family, p->in_proto, TW_FLOW_CONN,
			 tw_ports_of(p->in_ports, to ? TW_DIR_FROM_CLIENT : TW_DIR_TO_CLIENT),
			 to ? p->in_saddr : p->in_daddr, to ? p->in_daddr : p->in_saddr);
	v = tw_conn_get(p->family, w);
	return v && v->slot == c->slot && v->gen == c->cl->gen &&
	       tw_now() - v->last_seen_ns <= tw_flow_timeout_ns;
}

/*
 * The fast path: a packet of an admitted connection. Returns 1 (not an
 * open connection: take the slow path), 0 (pass) or a negative drop
 * reason; c->slot and c->cl are set whenever the connection's client is
 * known, so drops are counted per client.
 */
/* The slot a connection names: still its session (generation), not freed. */
static __always_inline int tw_fast_slot(struct tw_ctx *c, __u32 slot, __u32 gen)
{
	c->slot = slot;
	c->cl = bpf_map_lookup_elem(&tw1_slots, &c->slot);
	if (!c->cl || c->cl->gen != gen || c->cl->state == TW_STATE_FREE) {
		c->cl = NULL;
		return 1;
	}
	if (c->cl->state == TW_STATE_BANNED)
		return -TW_DROP_BANNED;
	return 0;
}

static __always_inline int tw_fast(struct tw_ctx *c, __u32 ifindex, __u8 kind)
{
	struct tw_fcache_ref fc = {};
	struct tw_flow4_key k4;
	struct tw_flow6_key k6;
	struct tw_flow_val *v;
	__u32 w[TW_CONNKEY6_WORDS];
	__u64 now, gen;
	int err;

	tw_connkey_of(w, &c->p, ifindex, c->dir, kind);
	/* read before the connection map is: userspace deletes connections,
	 * then bumps it */
	gen = tw_addr_gen();
	now = tw_now();
	if (c->p.family == TW_FAM_V4) {
		tw_connkey_store(&k4, w, TW_CONNKEY4_WORDS);
		if (kind == TW_FLOW_CONN)
			tw_fcache4_get(&fc, w);
	} else {
		tw_connkey_store(&k6, w, TW_CONNKEY6_WORDS);
		if (kind == TW_FLOW_CONN)
			tw_fcache6_get(&fc, w);
	}
	if (tw_fcache_hit(&fc, gen, now, tw_flow_timeout_ns)) {
		err = tw_fast_slot(c, fc.v->slot, fc.v->gen);
		if (err <= 0)
			return err;
		/* the session ended: what the connection map says decides */
	}
	if (c->p.family == TW_FAM_V4)
		v = bpf_map_lookup_elem(&tw1_flows4, &k4);
	else
		v = bpf_map_lookup_elem(&tw1_flows6, &k6);
	if (!v)
		return 1;
	if (now - v->last_seen_ns > tw_flow_timeout_ns)
		return 1;
	err = tw_fast_slot(c, v->slot, v->gen);
	if (err)
		return err;
	if (v->addr_gen != gen) {
		err = tw_tenant_check(c);
		if (err)
			return err;
		v->addr_gen = gen;
	}
	/* a write per packet would bounce the line between CPUs on busy flows */
	if (tw_flow_refresh_due(now - v->last_seen_ns))
		v->last_seen_ns = now;
	tw_fcache_fill(&fc, w, v, gen, now);
	return 0;
}

/* The slow path: the first packet of a connection, or anything else. */
static __always_inline int tw_slow(struct tw_ctx *c, struct __sk_buff *skb)
{
	struct tw_client_key ck;
	__u32 *slot;
	int err;

	tw_client_key(&ck, skb->ifindex, c->p.family,
		      c->dir == TW_DIR_FROM_CLIENT ? c->p.saddr : c->p.daddr);
	slot = bpf_map_lookup_elem(&tw1_clients, &ck);
	if (!slot)
		return -TW_DROP_UNKNOWN_CLIENT;
	c->slot = *slot;
	c->cl = bpf_map_lookup_elem(&tw1_slots, &c->slot);
	if (!c->cl || c->cl->state == TW_STATE_FREE) {
		c->cl = NULL;
		return -TW_DROP_UNKNOWN_CLIENT;
	}
	if (c->cl->state == TW_STATE_BANNED)
		return -TW_DROP_BANNED;
	if (c->p.frag == TW_FRAG_LATER)
		return -TW_DROP_FRAGMENT;
	c->addr_gen = tw_addr_gen();
	err = tw_tenant_check(c);
	if (err)
		return err;
	if (tw_related_open(c, skb->ifindex)) {
		tw_gcount(TW_G_REPLY, c->p.bytes, c->p.pkts);
		return 0;
	}
	/* a new connection: the allowlist decides */
	if (c->cl->state == TW_STATE_SANDBOX)
		err = c->dir == TW_DIR_FROM_CLIENT ?
			      tw_acl_check(c, TW_LIST_SANDBOX, TW_DROP_SANDBOXED) :
			      -TW_DROP_SANDBOXED;
	else
		err = tw_acl_check(
			c, c->dir == TW_DIR_FROM_CLIENT ? TW_LIST_FROM_CLIENT : TW_LIST_TO_CLIENT,
			TW_DROP_NOT_ALLOWED);
	if (err)
		return err;
	tw_flow_record(c, skb->ifindex, TW_FLOW_CONN);
	return 0;
}

static __always_inline int tw_handle(struct __sk_buff *skb, int dir)
{
	struct tw_ctx c;
	int err;

	/* not "= { .dir = dir }": that zeroes all of struct tw_pkt */
	c.dir = dir;
	c.slot = 0;
	c.cl = NULL;
	c.addr_gen = 0;
	tw_pkt_init(&c.p);
	err = tw_parse(skb, &c.p);
	if (err > 0) {
		tw_gcount(TW_G_NON_IP_PASS, skb->len, 1);
		return TC_ACT_UNSPEC_;
	}
	if (err) {
		tw_gcount(-err, skb->len, 1);
		return TC_ACT_SHOT_;
	}

	err = tw_fast(&c, skb->ifindex, c.p.frag == TW_FRAG_LATER ? TW_FLOW_FRAG : TW_FLOW_CONN);
	if (err == 0 && c.p.frag != TW_FRAG_LATER)
		tw_gcount(TW_G_REPLY, c.p.bytes, c.p.pkts);
	else if (err > 0)
		err = tw_slow(&c, skb);
	/* a first fragment opens the way for the rest of its datagram */
	if (err == 0 && c.p.frag == TW_FRAG_FIRST) {
		if (!c.addr_gen)
			c.addr_gen = tw_addr_gen();
		tw_flow_record(&c, skb->ifindex, TW_FLOW_FRAG);
	}
	if (err) {
		tw_gcount(-err, c.p.bytes, c.p.pkts);
		if (c.cl)
			tw_client_drop(c.slot, -err, c.p.bytes, c.p.pkts);
		return TC_ACT_SHOT_;
	}
	tw_gcount(dir == TW_DIR_FROM_CLIENT ? TW_G_PASS_IN : TW_G_PASS_OUT, c.p.bytes, c.p.pkts);
	tw_client_pass(c.slot, dir, c.p.bytes, c.p.pkts);
	return TC_ACT_UNSPEC_;
}

SEC("tc")
int tw_tun_in(struct __sk_buff *skb)
{
	return tw_handle(skb, TW_DIR_FROM_CLIENT);
}

SEC("tc")
int tw_tun_out(struct __sk_buff *skb)
{
	return tw_handle(skb, TW_DIR_TO_CLIENT);
}
