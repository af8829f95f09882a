/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers for the dataplane end-to-end test and the benchmarks: named
 * network namespaces, tun devices, a small IPv4/IPv6 packet parser, packet
 * logs fed from a tun fd or an AF_PACKET socket, and a cleanup registry that
 * runs on every exit path (atexit and fatal signals). Packets are built with
 * selftests/lib/packet.h, included here for the users' convenience.
 *
 * Everything is driven from C so that a test inside a VM (where each exec
 * costs ~60 ms) spawns `ip` once per namespace, not once per setting.
 */
#ifndef TW_E2E_UTIL_H
#define TW_E2E_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>
#include "packet.h"

/* ---- cleanup registry ---- */

/* Arm atexit and SIGINT/SIGTERM/SIGHUP/SIGALRM handlers; @watchdog_s > 0
 * also arms alarm(): a hung test ends with a failure, never a pass. */
void e2e_cleanup_init(unsigned int watchdog_s);
/* Namespaces created with e2e_ns_create() and pin dirs registered here are
 * removed by e2e_cleanup() and on every exit path. */
void e2e_cleanup_add_pindir(const char *path);
void e2e_cleanup(void);
/* Remove a bpffs directory tree (maps, links): unpinning detaches links. */
void e2e_rm_tree(const char *path);

/* ---- network namespaces ---- */

/* Create a named namespace (/run/netns/NAME, like `ip netns add`). */
int e2e_ns_create(const char *name);
void e2e_ns_delete(const char *name);
/* Move the calling thread into namespace @name ("" or NULL: the original). */
int e2e_ns_enter(const char *name);
/* Feed @cmds (one `ip` command per line, without "ip") to `ip -n NS -batch -`. */
int e2e_ip_batch(const char *ns, const char *cmds);
/* Run a shell command inside @ns (NULL: the current one); 0 or -errno/-status. */
int e2e_ns_system(const char *ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write @val to /proc/sys/@key (dots or slashes) in the current namespace. */
int e2e_sysctl(const char *key, const char *val);
int e2e_ifindex(const char *ns, const char *ifname);

/* ---- tun ---- */

/* Open /dev/net/tun as IFF_TUN|IFF_NO_PI named @name, non-blocking, in the
 * calling thread's namespace. Returns the fd or -errno. */
int e2e_tun_open(const char *name);

/* ---- packets ---- */

struct pkt_info {
	uint8_t family, proto;
	uint8_t src[16], dst[16];
	uint16_t sport, dport; /* host order; ICMP echo: id in both */
	uint32_t len; /* IP total length */
	uint32_t seq, ack;
	uint8_t tcp_flags, icmp_type;
	uint16_t payload_len;
};
/* 0, or -EINVAL for something that is not a whole IPv4/IPv6 packet. */
int e2e_pkt_parse(const uint8_t *buf, size_t n, struct pkt_info *pi);
bool e2e_addr_eq(const struct pkt_info *pi, bool dst, const char *addr);

/* A growing log of parsed packets. */
struct pkt_log {
	struct pkt_info *v;
	size_t n, cap;
};
void e2e_log_free(struct pkt_log *l);
void e2e_log_reset(struct pkt_log *l);

/* Read every packet queued on a tun fd (raw IP) into @l. Returns the count. */
int e2e_tun_drain(int fd, struct pkt_log *l);

/* AF_PACKET capture of IP packets on @ifname in the current namespace.
 * @outgoing: log the packets the interface sends instead of receives. */
int e2e_cap_open(const char *ifname, bool outgoing);
int e2e_cap_drain(int fd, bool outgoing, struct pkt_log *l);

/* Predicates over a log; NULL/0 fields match anything. */
struct pkt_match {
	const char *src, *dst;
	uint8_t proto;
	uint16_t dport, sport;
	uint8_t icmp_type;
	bool any_icmp_type;
};
size_t e2e_log_count(const struct pkt_log *l, const struct pkt_match *m);
uint64_t e2e_log_bytes(const struct pkt_log *l, const struct pkt_match *m);
const struct pkt_info *e2e_log_find(const struct pkt_log *l, const struct pkt_match *m);

uint64_t e2e_now_ms(void);
void e2e_sleep_ms(unsigned int ms);

/* ---- raw BPF ---- */

/* A TC program counting the packets it sees in element 0 of @map_fd
 * (ARRAY, u32 -> u64) and returning @verdict: TC_ACT_UNSPEC (-1, ==
 * TCX_NEXT) passes them on, TC_ACT_SHOT (2) makes a packet sink. */
int e2e_counting_prog(int map_fd, int verdict);

#endif /* TW_E2E_UTIL_H */
