// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Admission and accounting on a tunnel interface (OpenVPN tun, WireGuard,
 * strongSwan): tw_tun_in runs on TC ingress (packets from clients),
 * tw_tun_out on TC egress (packets to clients).
 *
 * fast path, every packet: parse -> the connection in tw1_flows4 / tw1_flows
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
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/counters.h"

#define TC_ACT_UNSPEC_ (-1)
#define TC_ACT_SHOT_   2

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

/* Refresh a flow's timestamp at most this often: a write per packet would
 * bounce the cache line between CPUs on busy flows. */
#define TW_FLOW_REFRESH_NS 1000000000ULL

/* ... and at least twice per timeout, so that a configured timeout under
 * two seconds still keeps a live flow open. */
static __always_inline bool tw_flow_refresh_due(__u64 age)
{
	return age > TW_FLOW_REFRESH_NS || age > tw_flow_timeout_ns / 2;
}

/* The per-CPU connection caches (abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TW_FCACHE_SIZE);
	__type(key, __u32);
	__type(value, struct tw_fcache4_ent);
} tw_fcache4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TW_FCACHE_SIZE);
	__type(key, __u32);
	__type(value, struct tw_fcache6_ent);
} tw_fcache6 SEC(".maps");

/* How long a cache entry stands for a look at the connection map: at most
 * the refresh interval, and a quarter of a short timeout, so a connection
 * that only ever hits the cache still refreshes its entry there in time. */
static __always_inline __u64 tw_fcache_ttl(void)
{
	__u64 q = tw_flow_timeout_ns / 4;

	return q < TW_FLOW_REFRESH_NS ? q : TW_FLOW_REFRESH_NS;
}

/*
 * The fast path builds a connection's key as 32-bit words in registers
 * (the layouts of struct tw_flow4_key and struct tw_flow_key): the cache
 * hashes and compares the words, and the map key is stored a word at a
 * time. A key built field by field and read back as words made each read
 * wait for the narrower stores it spans to retire (a load is forwarded
 * from one store, not from several): a third of the fast path's time.
 */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define TW_W(b0, b1, b2, b3) \
	((__u32)(b0) | (__u32)(b1) << 8 | (__u32)(b2) << 16 | (__u32)(b3) << 24)
#else
#define TW_W(b0, b1, b2, b3) \
	((__u32)(b0) << 24 | (__u32)(b1) << 16 | (__u32)(b2) << 8 | (__u32)(b3))
#endif
#define TW_KW4 (sizeof(struct tw_flow4_key) / 4)
#define TW_KW6 (sizeof(struct tw_flow_key) / 4)

static __always_inline __u32 tw_word(const __u8 *a)
{
	__u32 w;

	__builtin_memcpy(&w, __builtin_assume_aligned(a, 4), 4);
	return w;
}

/* Each of a key's words, unrolled by hand: clang kept some of these loops
 * as loops despite #pragma unroll. */
_Static_assert(TW_KW4 == 5 && TW_KW6 == 11, "connection key words");
#define TW_KW_EACH(n, X)             \
	do {                         \
		X(0);                \
		X(1);                \
		X(2);                \
		X(3);                \
		X(4);                \
		if ((n) == TW_KW6) { \
			X(5);        \
			X(6);        \
			X(7);        \
			X(8);        \
			X(9);        \
			X(10);       \
		}                    \
	} while (0)

/* Store @n words to @dst (4-byte aligned) */
static __always_inline void tw_kw_store(void *dst, const __u32 *w, const unsigned int n)
{
	__u32 *d = __builtin_assume_aligned(dst, 4);

#define TW_KW_ST(i) (d[i] = w[i])
	TW_KW_EACH(n, TW_KW_ST);
#undef TW_KW_ST
}

static __always_inline bool tw_kw_eq(const void *key, const __u32 *w, const unsigned int n)
{
	const __u32 *k = __builtin_assume_aligned(key, 4);
	__u32 x = 0;

#define TW_KW_XOR(i) (x |= k[i] ^ w[i])
	TW_KW_EACH(n, TW_KW_XOR);
#undef TW_KW_XOR
	return x == 0;
}

/* tw_fcache_idx() of the key the words make */
static __always_inline __u32 tw_kw_idx(const __u32 *w, const unsigned int n)
{
	__u32 h = 0;

#define TW_KW_MIX(i) (h ^= w[i] * TW_FCACHE_MUL(i))
	TW_KW_EACH(n, TW_KW_MIX);
#undef TW_KW_MIX
	return tw_fcache_fold(h);
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
	__u32 off = tw_l3_off;
	__u8 ver;

	if (off) {
		__u16 proto;

		if (tw_load(skb, 12, &proto, 2))
			return -TW_DROP_MALFORMED;
		proto = bpf_ntohs(proto);
		if (proto == ETH_P_ARP_ && tw_pass_arp)
			return 1;
		if (proto == ETH_P_IP_)
			return tw_parse_v4(skb, p, off);
		if (proto == ETH_P_IPV6_)
			return tw_parse_v6(skb, p, off);
		return -TW_DROP_MALFORMED;
	}
	/* L3 tunnel: the version nibble is the only protocol indication. */
	if (tw_load(skb, 0, &ver, 1))
		return -TW_DROP_MALFORMED;
	ver >>= 4;
	if (ver == 4)
		return tw_parse_v4(skb, p, 0);
	if (ver == 6)
		return tw_parse_v6(skb, p, 0);
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
 * tw1_flows4 (20-byte key), IPv6 ones in tw1_flows (44 bytes): the map
 * hashes and compares the whole key on every packet. Its key is built as
 * words (above) by tw_kw_build(), and stored to the stack only for a map
 * call.
 */

/* Two ports as a packet holds them (source first), the client's first:
 * swapping the halves swaps the two ports in either byte order. */
static __always_inline __u32 tw_ports_of(__u32 ports, int dir)
{
	return dir == TW_DIR_FROM_CLIENT ? ports : ports >> 16 | ports << 16;
}

/* The words of a connection's key: struct tw_flow4_key or tw_flow_key.
 * @ports: the client's port first; @ca, @ra: the client's and the remote
 * address, 4-byte aligned. */
static __always_inline void tw_kw_build(__u32 *w, __u32 ifindex, __u8 family, __u8 proto, __u8 kind,
					__u32 ports, const __u8 *ca, const __u8 *ra)
{
	int i;

	w[0] = ifindex;
	if (family == TW_FAM_V4) {
		w[1] = tw_word(ca);
		w[2] = tw_word(ra);
		w[3] = ports;
		w[4] = TW_W(proto, kind, 0, 0);
		return;
	}
	w[1] = TW_W(family, proto, kind, 0);
	w[2] = ports;
#pragma unroll
	for (i = 0; i < 4; i++) {
		w[3 + i] = tw_word(ca + 4 * i);
		w[7 + i] = tw_word(ra + 4 * i);
	}
}

/* The key of the connection a packet belongs to, from what it carries. */
static __always_inline void tw_kw_of(__u32 *w, const struct tw_pkt *p, __u32 ifindex, int dir,
				     __u8 kind)
{
	/* a later IPv6 fragment names the header after the fragment header,
	 * which may be an extension header: the first fragment records that;
	 * a fragment entry has no ports */
	tw_kw_build(w, ifindex, p->family, kind == TW_FLOW_FRAG ? p->frag_proto : p->proto, kind,
		    kind == TW_FLOW_CONN ? tw_ports_of(p->ports, dir) : 0,
		    dir == TW_DIR_FROM_CLIENT ? p->saddr : p->daddr,
		    dir == TW_DIR_FROM_CLIENT ? p->daddr : p->saddr);
}

/* Two call sites, one per map: the verifier inlines a lookup only where
 * a call site always sees the same map. */
static __always_inline struct tw_flow_val *tw_conn_get(__u8 family, const __u32 *w)
{
	if (family == TW_FAM_V4) {
		struct tw_flow4_key k;

		tw_kw_store(&k, w, TW_KW4);
		return bpf_map_lookup_elem(&tw1_flows4, &k);
	} else {
		struct tw_flow_key k;

		tw_kw_store(&k, w, TW_KW6);
		return bpf_map_lookup_elem(&tw1_flows, &k);
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

	tw_kw_store(&k, w, TW_KW4);
	return bpf_map_update_elem(&tw1_flows4, &k, v, BPF_ANY);
}

static __noinline int tw_conn_put6(const __u32 *w, const struct tw_flow_val *v)
{
	struct tw_flow_key k;

	tw_kw_store(&k, w, TW_KW6);
	return bpf_map_update_elem(&tw1_flows, &k, v, BPF_ANY);
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
	__u32 w[TW_KW6];

	tw_kw_of(w, &c->p, ifindex, c->dir, kind);
	if (tw_conn_put(c->p.family, w, &v) == 0 && kind == TW_FLOW_CONN)
		tw_gcount(TW_G_FLOW_NEW, 0, 1);
}

static __always_inline bool tw_rule_match(const struct tw_port_rule *r, const struct tw_pkt *p)
{
	__u16 port;

	if (r->proto != TW_PROTO_ANY && r->proto != p->proto)
		return false;
	if (!p->has_ports)
		/* Portless protocols match a rule of their protocol, or an
		 * any-protocol rule that does not restrict ports. */
		return r->proto != TW_PROTO_ANY || (r->port_lo == 0 && r->port_hi == 0xffff);
	port = bpf_ntohs(p->dport);
	return port >= r->port_lo && port <= r->port_hi;
}

/* 0 if the allowlist @list of the client's profile admits the packet. */
static __always_inline int tw_acl_check(const struct tw_ctx *c, __u8 list, __u32 miss_reason)
{
	const struct tw_pkt *p = &c->p;
	__u32 profile = c->cl->profile;
	struct tw_acl_key k;
	struct tw_acl_val *v;
	void *inner;
	int i;

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
	if (!v)
		return -(int)miss_reason;
	for (i = 0; i < TW_ACL_RULES_PER_PREFIX; i++) {
		if (i >= v->nrules)
			break;
		if (tw_rule_match(&v->rules[i], p))
			return 0;
	}
	return -(int)miss_reason;
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
	__u32 w[TW_KW6];

	if (!p->related)
		return false;
	/* the quoted packet went the other way: from the client when the
	 * error travels to it */
	tw_kw_build(w, ifindex, p->family, p->in_proto, TW_FLOW_CONN,
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
	struct tw_fcache4_ent *e4 = NULL;
	struct tw_fcache6_ent *e6 = NULL;
	struct tw_fcache_val *cv = NULL;
	struct tw_flow4_key k4;
	struct tw_flow_key k6;
	struct tw_flow_val *v;
	__u32 w[TW_KW6];
	bool same = false;
	__u64 now, gen;
	__u32 idx;
	int err;

	tw_kw_of(w, &c->p, ifindex, c->dir, kind);
	/* read before the connection map is: userspace deletes connections,
	 * then bumps it */
	gen = tw_addr_gen();
	now = tw_now();
	if (c->p.family == TW_FAM_V4) {
		tw_kw_store(&k4, w, TW_KW4);
		if (kind == TW_FLOW_CONN) {
			idx = tw_kw_idx(w, TW_KW4);
			e4 = bpf_map_lookup_elem(&tw_fcache4, &idx);
			if (e4) {
				cv = &e4->v;
				same = tw_kw_eq(&e4->key, w, TW_KW4);
			}
		}
	} else {
		tw_kw_store(&k6, w, TW_KW6);
		if (kind == TW_FLOW_CONN) {
			idx = tw_kw_idx(w, TW_KW6);
			e6 = bpf_map_lookup_elem(&tw_fcache6, &idx);
			if (e6) {
				cv = &e6->v;
				same = tw_kw_eq(&e6->key, w, TW_KW6);
			}
		}
	}
	if (same && cv->addr_gen == gen && now - cv->checked_ns <= tw_fcache_ttl()) {
		err = tw_fast_slot(c, cv->slot, cv->gen);
		if (err <= 0)
			return err;
		/* the session ended: what the connection map says decides */
	}
	if (c->p.family == TW_FAM_V4)
		v = bpf_map_lookup_elem(&tw1_flows4, &k4);
	else
		v = bpf_map_lookup_elem(&tw1_flows, &k6);
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
	if (e4)
		tw_kw_store(&e4->key, w, TW_KW4);
	else if (e6)
		tw_kw_store(&e6->key, w, TW_KW6);
	if (cv) {
		cv->slot = v->slot;
		cv->gen = v->gen;
		cv->addr_gen = gen;
		cv->checked_ns = now;
	}
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
