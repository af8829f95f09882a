// SPDX-License-Identifier: GPL-2.0-only
/*
 * End-to-end test of the tunnel dataplane with real packets.
 *
 *  "clients"        srv namespace (VPN node)              svc namespace
 *  test writes  --> tw0 (real tun, tw_tun_in/out)  fwd    svc0 198.18.0.2
 *  into tun fd      10.8.0.1/24 fd00:8::1/64  up0 <-veth-> fd00:18::2
 *  test reads   <-- (egress = packets routed to clients)  sockets + capture
 *                   clp0 10.9.0.1 <-veth-> cl1 10.9.0.2 (cli namespace, real
 *                   stack, programs on clp0 with l3_off 14)
 *
 * The test plays the VPN daemon on tw0: what it writes into the tun fd is
 * ingress traffic from clients, what it reads is egress towards them.
 * Verdicts are observed at the receivers (sockets and an AF_PACKET capture
 * in svc, the tun reader), and the per-client counters must equal the bytes
 * the receivers actually got.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "test.h"
#include "tw_dp.h"
#include "e2e_util.h"

#define TCX_INGRESS 46 /* BPF_TCX_INGRESS: not in Debian 12's uapi headers */

#define SVC4	 "198.18.0.2"
#define SVC6	 "fd00:18::2"
#define A4	 "10.8.0.2"
#define A6	 "fd00:8::2"
#define B4	 "10.8.0.3"
#define B6	 "fd00:8::3"
#define C4	 "10.8.0.4"
#define UNKNOWN4 "10.8.0.99"
#define CLI4	 "10.9.0.2"

#define SLOT_A	1
#define SLOT_B	2
#define SLOT_C	3
#define PROFILE 7

/* A UDP socket in svc; every datagram received is counted, the senders are
 * kept so the test can answer them. */
struct usock {
	int fd;
	int rx;
	struct sockaddr_storage from[64];
	int nfrom;
};

static struct {
	char ns_srv[48], ns_svc[48], ns_cli[48];
	char pin[64];
	int tun_fd, tun_ifindex, clp_ifindex;
	int cap_svc, cap_cli_out, cap_cli_in;
	struct pkt_log tun_log, svc_log, cli_out_log, cli_in_log;
	struct usock u5000, u6000, u5000_6, u6000_6, u9999;
	int tcp8080, tcp2323;
	struct tw_dp_opts opts;
	struct tw_dp *dp;
	bool tcx;
} env = { .tun_fd = -1, .cap_svc = -1, .cap_cli_out = -1, .cap_cli_in = -1 };

static const uint8_t payload[1500] = { 't', 'w' };

/* --------------------------------------------------------------- helpers */

/* Write the IP packet of @s (IPv4 with DF set) as a client; its length or -errno. */
static int tun_send(const struct pkt_spec *s)
{
	struct pkt_spec l3 = *s;
	struct pkt p;

	l3.no_eth = true;
	if (l3.family == 4 && !l3.ip4_frag)
		l3.ip4_frag = PKT_DF;
	if (pkt_build(&p, &l3))
		return p.err;
	if (write(env.tun_fd, p.data, p.len) != (ssize_t)p.len)
		return -errno;
	return (int)p.len;
}

/* Write a UDP packet as a client; returns its IP length or -errno. */
static int tun_udp(const char *src, const char *dst, uint16_t sport, uint16_t dport, size_t len)
{
	struct pkt_spec s = { .family = strchr(src, ':') ? 6 : 4,
			      .src = src,
			      .dst = dst,
			      .proto = IPPROTO_UDP,
			      .sport = sport,
			      .dport = dport,
			      .payload_data = payload,
			      .payload = (uint16_t)len };

	return tun_send(&s);
}

static void usock_drain(struct usock *u)
{
	char buf[2048];

	if (u->fd < 0)
		return;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		if (recvfrom(u->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &sl) <
		    0)
			break;
		if (u->nfrom < 64)
			u->from[u->nfrom++] = ss;
		u->rx++;
	}
}

static void usock_reset(struct usock *u)
{
	usock_drain(u);
	u->rx = u->nfrom = 0;
}

static int pump(void)
{
	int n = e2e_tun_drain(env.tun_fd, &env.tun_log) +
		e2e_cap_drain(env.cap_svc, false, &env.svc_log);
	if (env.cap_cli_out >= 0)
		n += e2e_cap_drain(env.cap_cli_out, true, &env.cli_out_log);
	if (env.cap_cli_in >= 0)
		n += e2e_cap_drain(env.cap_cli_in, false, &env.cli_in_log);
	usock_drain(&env.u5000);
	usock_drain(&env.u6000);
	usock_drain(&env.u5000_6);
	usock_drain(&env.u6000_6);
	usock_drain(&env.u9999);
	return n;
}

/* Collect until nothing new arrived for @quiet_ms (bounded by @max_ms). */
static void quiesce(unsigned int quiet_ms, unsigned int max_ms)
{
	uint64_t start = e2e_now_ms(), last = start;

	while (e2e_now_ms() - start < max_ms) {
		if (pump() > 0)
			last = e2e_now_ms();
		else if (e2e_now_ms() - last >= quiet_ms)
			break;
		e2e_sleep_ms(5);
	}
}

static void reset_all(void)
{
	quiesce(50, 1000);
	e2e_log_reset(&env.tun_log);
	e2e_log_reset(&env.svc_log);
	e2e_log_reset(&env.cli_out_log);
	e2e_log_reset(&env.cli_in_log);
	usock_reset(&env.u5000);
	usock_reset(&env.u6000);
	usock_reset(&env.u5000_6);
	usock_reset(&env.u6000_6);
	usock_reset(&env.u9999);
}

/* Wait until @log holds >= @want packets matching @m. */
static bool wait_log(const struct pkt_log *log, const struct pkt_match *m, size_t want,
		     unsigned int max_ms)
{
	uint64_t start = e2e_now_ms();

	for (;;) {
		pump();
		if (e2e_log_count(log, m) >= want)
			return true;
		if (e2e_now_ms() - start > max_ms)
			return false;
		e2e_sleep_ms(5);
	}
}

static bool wait_rx(const struct usock *u, int want, unsigned int max_ms)
{
	uint64_t start = e2e_now_ms();

	for (;;) {
		pump();
		if (u->rx >= want)
			return true;
		if (e2e_now_ms() - start > max_ms)
			return false;
		e2e_sleep_ms(5);
	}
}

/* Answer every datagram @u received so far from its own port. */
static int usock_echo(struct usock *u)
{
	int n = 0;

	for (int i = 0; i < u->nfrom; i++) {
		socklen_t sl = u->from[i].ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
								  sizeof(struct sockaddr_in);

		if (sendto(u->fd, payload, 48, 0, (struct sockaddr *)&u->from[i], sl) == 48)
			n++;
	}
	u->nfrom = 0;
	return n;
}

static int udp_sock(int family, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss = {};
	int fd, one = 1, sz = 16 << 20;
	socklen_t sl;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s4->sin_addr);
		sl = sizeof(*s4);
	}
	if (bind(fd, (struct sockaddr *)&ss, sl)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int tcp_listener(const char *addr, uint16_t port)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	inet_pton(AF_INET, addr, &s4.sin_addr);
	if (bind(fd, (struct sockaddr *)&s4, sizeof(s4)) || listen(fd, 16)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int accept_wait(int lfd, unsigned int max_ms)
{
	uint64_t start = e2e_now_ms();

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0 || errno != EAGAIN || e2e_now_ms() - start > max_ms)
			return fd >= 0 ? fd : -errno;
		pump();
		e2e_sleep_ms(5);
	}
}

static int usock_to(struct usock *u, const char *dst, uint16_t port, size_t len)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, dst, &s4.sin_addr);
	if (sendto(u->fd, payload, len, 0, (struct sockaddr *)&s4, sizeof(s4)) != (ssize_t)len)
		return -errno;
	return (int)(len + 28); /* IPv4 + UDP headers */
}

static void add_rule(struct tw_rule *r, size_t *n, uint8_t list, const char *pfx, uint8_t proto,
		     uint16_t lo, uint16_t hi)
{
	struct tw_rule *x = &r[(*n)++];

	memset(x, 0, sizeof(*x));
	x->list = list;
	x->proto = proto;
	x->port_lo = lo;
	x->port_hi = hi;
	if (tw_prefix_parse(pfx, &x->prefix, &x->plen))
		fprintf(stderr, "bad prefix %s\n", pfx);
}

static int load_policy(struct tw_dp *dp, int ifindex)
{
	static const struct {
		int slot;
		uint32_t tenant;
		const char *a4, *a6;
	} cl[] = {
		{ SLOT_A, 1, A4, A6 },
		{ SLOT_B, 2, B4, B6 },
		{ SLOT_C, 1, C4, NULL },
	};
	struct tw_rule r[16];
	size_t n = 0;
	int err;

	add_rule(r, &n, TW_LIST_FROM_CLIENT, SVC4 "/32", IPPROTO_UDP, 5000, 5001);
	add_rule(r, &n, TW_LIST_FROM_CLIENT, SVC4 "/32", IPPROTO_TCP, 8080, 8080);
	add_rule(r, &n, TW_LIST_FROM_CLIENT, "198.18.0.0/24", IPPROTO_ICMP, 0, 65535);
	add_rule(r, &n, TW_LIST_FROM_CLIENT, SVC6 "/128", IPPROTO_UDP, 5000, 5000);
	add_rule(r, &n, TW_LIST_FROM_CLIENT, "10.8.0.0/24", 0, 0, 65535);
	add_rule(r, &n, TW_LIST_TO_CLIENT, SVC4 "/32", IPPROTO_UDP, 7000, 7000);
	add_rule(r, &n, TW_LIST_TO_CLIENT, "10.8.0.0/24", 0, 0, 65535);
	err = tw_dp_profile_set(dp, PROFILE, r, n);
	if (err)
		return err;
	for (size_t i = 0; i < sizeof(cl) / sizeof(cl[0]); i++) {
		struct tw_client c = { .slot = (uint32_t)cl[i].slot,
				       .ifindex = ifindex,
				       .tenant = cl[i].tenant,
				       .profile = PROFILE,
				       .state = TW_STATE_PERMIT };

		tw_addr_parse(cl[i].a4, &c.addrs[c.naddrs++]);
		if (cl[i].a6)
			tw_addr_parse(cl[i].a6, &c.addrs[c.naddrs++]);
		tw_dp_client_remove(dp, &c); /* a fresh session: counters from zero */
		err = tw_dp_client_add(dp, &c);
		if (err)
			return err;
	}
	return 0;
}

static int read_ctr(struct tw_dp *dp, uint32_t slot, struct tw_client_ctr *c)
{
	return tw_dp_counters_read(dp, slot, 1, c);
}

/* ------------------------------------------------------------------ setup */

static int setup(void)
{
	char cmd[1024];
	int err;

	/* selftests/e2e/run.sh hands each scenario a prefix it sweeps afterwards */
	const char *pfx = getenv("TW_E2E_PREFIX");
	char own[32];

	if (!pfx || !pfx[0] || strlen(pfx) > 20) {
		snprintf(own, sizeof(own), "twe-%d-", getpid());
		pfx = own;
	}
	snprintf(env.ns_srv, sizeof(env.ns_srv), "%ssrv", pfx);
	snprintf(env.ns_svc, sizeof(env.ns_svc), "%ssvc", pfx);
	snprintf(env.ns_cli, sizeof(env.ns_cli), "%scli", pfx);
	err = e2e_ns_create(env.ns_srv) ?: e2e_ns_create(env.ns_svc) ?: e2e_ns_create(env.ns_cli);
	if (err)
		return err;

	/* cli: IPv4 only, so no router/neighbour solicitations cross clp0 */
	err = e2e_ns_enter(env.ns_cli)					?:
		      e2e_sysctl("net.ipv6.conf.all.disable_ipv6", "1") ?:
		      e2e_sysctl("net.ipv6.conf.default.disable_ipv6", "1");
	if (err)
		return err;
	/* srv forwards; no redirects back into tw0 (a hairpinned A->C packet
	 * would otherwise draw an ICMP redirect towards A) */
	err = e2e_ns_enter(env.ns_srv)					      ?:
		      e2e_sysctl("net.ipv4.ip_forward", "1")		      ?:
		      e2e_sysctl("net.ipv6.conf.all.forwarding", "1")	      ?:
		      e2e_sysctl("net.ipv4.conf.all.send_redirects", "0")     ?:
		      e2e_sysctl("net.ipv4.conf.default.send_redirects", "0") ?:
		      e2e_sysctl("net.ipv6.conf.all.accept_dad", "0")	      ?:
		      e2e_sysctl("net.ipv4.conf.all.rp_filter", "0")	      ?:
		      e2e_sysctl("net.ipv4.conf.default.rp_filter", "0")      ?:
		      e2e_sysctl("net.ipv6.conf.default.disable_ipv6", "1")   ?:
		      e2e_sysctl("net.ipv6.conf.default.accept_dad", "0");
	if (err)
		return err;
	/* svc: no DAD either, or neighbour discovery towards the service waits
	 * for a tentative link-local address and the first v6 packets are late */
	err = e2e_ns_enter(env.ns_svc)					  ?:
		      e2e_sysctl("net.ipv6.conf.default.accept_dad", "0") ?:
		      e2e_sysctl("net.ipv6.conf.all.accept_dad", "0")	  ?:
									    e2e_ns_enter(env.ns_srv);
	if (err)
		return err;
	snprintf(cmd, sizeof(cmd),
		 "link add up0 type veth peer name svc0 netns %s\n"
		 "link add clp0 type veth peer name cl1 netns %s\n",
		 env.ns_svc, env.ns_cli);
	err = e2e_ip_batch(env.ns_srv, cmd);
	if (err)
		return err;
	/* IPv6 stays off on clp0 (default) but is needed on up0 and tw0 */
	err = e2e_sysctl("net.ipv6.conf.up0.disable_ipv6", "0");
	if (err)
		return err;
	env.tun_fd = e2e_tun_open("tw0");
	if (env.tun_fd < 0)
		return env.tun_fd;
	err = e2e_sysctl("net.ipv6.conf.tw0.disable_ipv6", "0");
	if (err)
		return err;
	err = e2e_ip_batch(env.ns_srv, "link set tw0 addrgenmode none\n"
				       "addr add 10.8.0.1/24 dev tw0\n"
				       "addr add fd00:8::1/64 dev tw0 nodad\n"
				       "link set tw0 up\n"
				       "addr add 198.18.0.1/24 dev up0\n"
				       "addr add fd00:18::1/64 dev up0 nodad\n"
				       "link set up0 up\n"
				       "addr add 10.9.0.1/24 dev clp0\n"
				       "link set clp0 up\n");
	if (err)
		return err;
	err = e2e_ip_batch(env.ns_svc, "addr add 198.18.0.2/24 dev svc0\n"
				       "addr add fd00:18::2/64 dev svc0 nodad\n"
				       "link set svc0 up\n"
				       "route add 10.8.0.0/24 via 198.18.0.1\n"
				       "route add 10.9.0.0/24 via 198.18.0.1\n"
				       "route add fd00:8::/64 via fd00:18::1\n");
	if (err)
		return err;
	err = e2e_ip_batch(env.ns_cli, "addr add 10.9.0.2/24 dev cl1\n"
				       "link set cl1 up\n"
				       "route add default via 10.9.0.1\n");
	if (err)
		return err;
	env.tun_ifindex = e2e_ifindex(env.ns_srv, "tw0");
	env.clp_ifindex = e2e_ifindex(env.ns_srv, "clp0");

	/* receivers in svc */
	err = e2e_ns_enter(env.ns_svc);
	if (err)
		return err;
	env.cap_svc = e2e_cap_open("svc0", false);
	env.u5000.fd = udp_sock(AF_INET, SVC4, 5000);
	env.u6000.fd = udp_sock(AF_INET, SVC4, 6000);
	env.u9999.fd = udp_sock(AF_INET, SVC4, 9999);
	env.u5000_6.fd = udp_sock(AF_INET6, SVC6, 5000);
	env.u6000_6.fd = udp_sock(AF_INET6, SVC6, 6000);
	env.tcp8080 = tcp_listener(SVC4, 8080);
	env.tcp2323 = tcp_listener(SVC4, 2323);
	if (env.cap_svc < 0 || env.u5000.fd < 0 || env.u6000.fd < 0 || env.u9999.fd < 0 ||
	    env.u5000_6.fd < 0 || env.u6000_6.fd < 0 || env.tcp8080 < 0 || env.tcp2323 < 0)
		return -EIO;
	err = e2e_ns_enter(env.ns_srv);
	if (err)
		return err;

	snprintf(env.pin, sizeof(env.pin), "/sys/fs/bpf/tw-test-%d", getpid());
	e2e_cleanup_add_pindir(env.pin);
	env.opts = (struct tw_dp_opts){
		.pin_root = env.pin, .l3_off = 0, .max_clients = 64, .max_flows = 4096
	};
	env.dp = tw_dp_open(&env.opts);
	if (!env.dp)
		return -errno;
	return 0;
}

static void teardown(void)
{
	tw_dp_close(env.dp);
	env.dp = NULL;
	if (env.tun_fd >= 0)
		close(env.tun_fd);
	e2e_log_free(&env.tun_log);
	e2e_log_free(&env.svc_log);
	e2e_log_free(&env.cli_out_log);
	e2e_log_free(&env.cli_in_log);
	e2e_ns_enter(NULL);
	e2e_cleanup();
}

static bool kernel_has_tcx(void)
{
	struct utsname u;
	int maj = 0, min = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &maj, &min) != 2)
		return false;
	return maj > 6 || (maj == 6 && min >= 6);
}

/* ------------------------------------------------------ tun scenario */

/*
 * One full pass over tw0 in @mode: allowed and denied UDP/TCP/ICMP from
 * clients, replies and unsolicited packets towards them, tenant isolation,
 * an unknown client, then counters against what the receivers got.
 */
static void tun_scenario(enum tw_attach_mode mode)
{
	struct tw_gctr g0[TW_G__MAX], g1[TW_G__MAX];
	struct tw_client_ctr ca, cb, cc;
	enum tw_attach_mode used = TW_ATTACH_AUTO;
	uint64_t drop_bytes_a = 0;
	const struct pkt_info *synack;
	int i, n, afd = -1, err;
	uint32_t s_seq;
	char rbuf[64];

	err = tw_dp_attach(env.dp, env.tun_ifindex, mode, &used);
	if (!ASSERT_OK(err, "attach tw0"))
		return;
	ASSERT_EQ(used, mode, "attach mode used");
	ASSERT_TRUE(tw_dp_attached(env.dp, env.tun_ifindex), "attached");
	if (!ASSERT_OK(load_policy(env.dp, env.tun_ifindex), "load policy"))
		goto out;
	reset_all();
	ASSERT_OK(tw_dp_gcounters_read(env.dp, g0), "gcounters before");

	/* from A: allowed UDP v4 x3, denied x2 */
	for (i = 0; i < 3; i++)
		ASSERT_GT(tun_udp(A4, SVC4, 40000, 5000, 100 + (size_t)i), 0, "udp allowed");
	for (i = 0; i < 2; i++) {
		n = tun_udp(A4, SVC4, 40000, 6000, 60);
		drop_bytes_a += n > 0 ? (uint64_t)n : 0;
	}
	/* v6: allowed x2, denied x1 */
	for (i = 0; i < 2; i++)
		ASSERT_GT(tun_udp(A6, SVC6, 40000, 5000, 200), 0, "udp6 allowed");
	n = tun_udp(A6, SVC6, 40000, 6000, 70);
	drop_bytes_a += n > 0 ? (uint64_t)n : 0;
	/* B allowed once */
	ASSERT_GT(tun_udp(B4, SVC4, 40000, 5000, 80), 0, "udp from B");
	/* an unknown tunnel address */
	ASSERT_GT(tun_udp(UNKNOWN4, SVC4, 40000, 5000, 90), 0, "udp from unknown");

	ASSERT_TRUE(wait_rx(&env.u5000, 4, 2000), "svc got allowed v4 datagrams");
	ASSERT_TRUE(wait_rx(&env.u5000_6, 2, 2000), "svc got allowed v6 datagrams");

	/* replies from the service: allowed, the client opened these flows */
	ASSERT_EQ(usock_echo(&env.u5000), 4, "echo v4");
	ASSERT_EQ(usock_echo(&env.u5000_6), 2, "echo v6");
	/* unsolicited towards A: from another port (denied), to the port the
	 * to-client list opens (allowed), and to a port A never used (denied) */
	n = usock_to(&env.u9999, A4, 40000, 40);
	drop_bytes_a += n > 0 ? (uint64_t)n : 0;
	ASSERT_GT(usock_to(&env.u9999, A4, 7000, 41), 0, "unsolicited to 7000");
	n = usock_to(&env.u5000, A4, 40001, 42);
	drop_bytes_a += n > 0 ? (uint64_t)n : 0;

	/* ICMP echo x2: answered by svc's kernel, reply back through tw0 */
	for (i = 0; i < 2; i++) {
		struct pkt_spec s = { .family = 4,
				      .src = A4,
				      .dst = SVC4,
				      .proto = IPPROTO_ICMP,
				      .icmp = PKT_ECHO_REQUEST,
				      .sport = 0x77, /* the echo identifier */
				      .payload_data = payload,
				      .payload = 56 };
		ASSERT_GT(tun_send(&s), 0, "icmp echo");
	}

	/* TCP: a handshake by hand to the allowed port, a SYN to a denied one */
	{
		struct pkt_spec s = { .family = 4,
				      .src = A4,
				      .dst = SVC4,
				      .proto = IPPROTO_TCP,
				      .sport = 41000,
				      .dport = 8080,
				      .tcp_flags = 0x02,
				      .tcp_seq = 1000 };
		struct pkt_match m = {
			.src = SVC4, .dst = A4, .proto = IPPROTO_TCP, .sport = 8080, .dport = 41000
		};

		ASSERT_GT(tun_send(&s), 0, "syn 8080");
		ASSERT_TRUE(wait_log(&env.tun_log, &m, 1, 2000), "syn-ack via tun egress");
		synack = e2e_log_find(&env.tun_log, &m);
		if (ASSERT_OK_PTR(synack, "syn-ack") &&
		    ASSERT_EQ(synack->tcp_flags, 0x12, "syn-ack flags")) {
			s_seq = synack->seq;
			s.tcp_flags = 0x10;
			s.tcp_seq = 1001;
			s.tcp_ack = s_seq + 1;
			tun_send(&s);
			s.tcp_flags = 0x18;
			s.payload_data = "hello-tunwarden";
			s.payload = 15;
			tun_send(&s);
			afd = accept_wait(env.tcp8080, 2000);
			if (ASSERT_GE(afd, 0, "accept 8080")) {
				uint64_t t0 = e2e_now_ms();

				n = -1;
				while (e2e_now_ms() - t0 < 2000) {
					n = (int)recv(afd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
					if (n > 0)
						break;
					pump();
					e2e_sleep_ms(5);
				}
				ASSERT_EQ(n, 15, "tcp data received");
			}
		}
	}
	{
		struct pkt_spec s = { .family = 4,
				      .src = A4,
				      .dst = SVC4,
				      .proto = IPPROTO_TCP,
				      .sport = 41001,
				      .dport = 2323,
				      .tcp_flags = 0x02,
				      .tcp_seq = 5000 };

		n = tun_send(&s);
		drop_bytes_a += n > 0 ? (uint64_t)n : 0;
	}

	/* tenant isolation: A->B dropped, A->C (same tenant) delivered, B->A dropped */
	n = tun_udp(A4, B4, 40000, 5000, 30);
	drop_bytes_a += n > 0 ? (uint64_t)n : 0;
	ASSERT_GT(tun_udp(A4, C4, 40000, 5000, 31), 0, "A to C");
	ASSERT_GT(tun_udp(B4, A4, 40000, 5000, 32), 0, "B to A");

	/* wait for what must arrive, then for silence */
	{
		struct pkt_match echo4 = {
			.src = SVC4, .dst = A4, .proto = IPPROTO_UDP, .sport = 5000, .dport = 40000
		};
		struct pkt_match icmp = {
			.src = SVC4, .dst = A4, .proto = IPPROTO_ICMP, .icmp_type = 0
		};
		struct pkt_match to_c = { .src = A4, .dst = C4 };

		ASSERT_TRUE(wait_log(&env.tun_log, &echo4, 3, 2000), "udp replies to A");
		ASSERT_TRUE(wait_log(&env.tun_log, &icmp, 2, 2000), "icmp replies to A");
		ASSERT_TRUE(wait_log(&env.tun_log, &to_c, 1, 2000), "A to C hairpin");
	}
	if (afd >= 0) {
		struct pkt_match ackd = {
			.src = SVC4, .dst = A4, .proto = IPPROTO_TCP, .sport = 8080, .dport = 41000
		};
		struct pkt_spec s = { .family = 4,
				      .src = A4,
				      .dst = SVC4,
				      .proto = IPPROTO_TCP,
				      .sport = 41000,
				      .dport = 8080,
				      .tcp_flags = 0x04,
				      .tcp_seq = 1016 };

		/* the service acks the data; then the client resets, so no
		 * retransmission can arrive after the counters are read */
		ASSERT_TRUE(wait_log(&env.tun_log, &ackd, 2, 2000), "tcp data acked");
		tun_send(&s);
		e2e_sleep_ms(30);
		close(afd);
	}
	quiesce(300, 3000);

	/* ---- verdicts at the receivers ---- */
	ASSERT_EQ(env.u5000.rx, 4, "svc udp 5000 got A x3 + B x1 (no unknown)");
	ASSERT_EQ(env.u6000.rx, 0, "svc udp 6000 got nothing");
	ASSERT_EQ(env.u5000_6.rx, 2, "svc udp6 5000 got 2");
	ASSERT_EQ(env.u6000_6.rx, 0, "svc udp6 6000 got nothing");
	{
		struct pkt_match m6000 = { .dport = 6000 }, m2323 = { .dport = 2323 },
				 unk = { .src = UNKNOWN4 }, ab = { .src = A4, .dst = B4 },
				 ba = { .src = B4, .dst = A4 },
				 u40000 = { .src = SVC4, .sport = 9999, .dst = A4, .dport = 40000 },
				 u7000 = { .src = SVC4, .sport = 9999, .dst = A4, .dport = 7000 },
				 u40001 = { .src = SVC4, .dst = A4, .dport = 40001 },
				 echo6 = { .src = SVC6, .dst = A6, .proto = IPPROTO_UDP },
				 echob = { .src = SVC4, .dst = B4, .proto = IPPROTO_UDP };

		ASSERT_EQ(e2e_log_count(&env.svc_log, &m6000), 0, "no denied udp at svc");
		ASSERT_EQ(e2e_log_count(&env.svc_log, &m2323), 0, "no denied tcp syn at svc");
		ASSERT_EQ(e2e_log_count(&env.svc_log, &unk), 0, "nothing from unknown client");
		ASSERT_EQ(accept4(env.tcp2323, NULL, NULL, SOCK_NONBLOCK), -1, "no conn on 2323");
		ASSERT_EQ(e2e_log_count(&env.tun_log, &ab), 0, "A to B isolated");
		ASSERT_EQ(e2e_log_count(&env.tun_log, &ba), 0, "B to A isolated");
		ASSERT_EQ(e2e_log_count(&env.tun_log, &u40000), 0, "unsolicited from 9999 dropped");
		ASSERT_EQ(e2e_log_count(&env.tun_log, &u7000), 1, "to-client list opens 7000");
		ASSERT_EQ(e2e_log_count(&env.tun_log, &u40001), 0,
			  "reply to unopened flow dropped");
		ASSERT_EQ(e2e_log_count(&env.tun_log, &echo6), 2, "udp6 replies to A");
		ASSERT_EQ(e2e_log_count(&env.tun_log, &echob), 1, "udp reply to B");
	}

	/* ---- counters equal what was delivered ---- */
	if (!ASSERT_OK(read_ctr(env.dp, SLOT_A, &ca), "read A") ||
	    !ASSERT_OK(read_ctr(env.dp, SLOT_B, &cb), "read B") ||
	    !ASSERT_OK(read_ctr(env.dp, SLOT_C, &cc), "read C"))
		goto out;
	{
		struct pkt_match from_a4 = { .src = A4 }, from_a6 = { .src = A6 },
				 to_a4 = { .dst = A4 }, to_a6 = { .dst = A6 },
				 from_b = { .src = B4 }, to_b = { .dst = B4 }, to_c = { .dst = C4 };
		uint64_t a_from = e2e_log_bytes(&env.svc_log, &from_a4) +
				  e2e_log_bytes(&env.svc_log, &from_a6) +
				  e2e_log_bytes(&env.tun_log, &from_a4); /* hairpin A->C */
		uint64_t a_from_p = e2e_log_count(&env.svc_log, &from_a4) +
				    e2e_log_count(&env.svc_log, &from_a6) +
				    e2e_log_count(&env.tun_log, &from_a4);
		uint64_t a_to =
			e2e_log_bytes(&env.tun_log, &to_a4) + e2e_log_bytes(&env.tun_log, &to_a6);
		uint64_t a_to_p =
			e2e_log_count(&env.tun_log, &to_a4) + e2e_log_count(&env.tun_log, &to_a6);

		if (test__verbose())
			test__diag("A from %llu/%llu to %llu/%llu",
				   (unsigned long long)ca.from_bytes,
				   (unsigned long long)ca.from_pkts,
				   (unsigned long long)ca.to_bytes, (unsigned long long)ca.to_pkts);
		ASSERT_GT(a_from, 0, "something delivered from A");
		ASSERT_EQ(ca.from_bytes, a_from, "A from_bytes == bytes delivered");
		ASSERT_EQ(ca.from_pkts, a_from_p, "A from_pkts == packets delivered");
		ASSERT_EQ(ca.to_bytes, a_to, "A to_bytes == bytes read from tun");
		ASSERT_EQ(ca.to_pkts, a_to_p, "A to_pkts == packets read from tun");
		ASSERT_EQ(ca.drops[TW_DROP_NOT_ALLOWED], 6, "A not-allowed drops");
		ASSERT_EQ(ca.drops[TW_DROP_TENANT], 1, "A tenant drops");
		ASSERT_EQ(ca.drop_bytes, drop_bytes_a, "A drop bytes");
		ASSERT_EQ(cb.from_bytes, e2e_log_bytes(&env.svc_log, &from_b), "B from_bytes");
		ASSERT_EQ(cb.to_bytes, e2e_log_bytes(&env.tun_log, &to_b), "B to_bytes");
		ASSERT_EQ(cb.drops[TW_DROP_TENANT], 1, "B tenant drops");
		ASSERT_EQ(cc.to_bytes, e2e_log_bytes(&env.tun_log, &to_c), "C to_bytes");
		ASSERT_EQ(cc.to_pkts, 1, "C to_pkts");
		ASSERT_EQ(cc.from_pkts, 0, "C sent nothing");
	}
	if (ASSERT_OK(tw_dp_gcounters_read(env.dp, g1), "gcounters after"))
		ASSERT_GE(g1[TW_DROP_UNKNOWN_CLIENT].pkts - g0[TW_DROP_UNKNOWN_CLIENT].pkts, 1,
			  "unknown client counted");
out:
	/* detached, the same denied packet goes through: the program was the filter */
	ASSERT_OK(tw_dp_detach(env.dp, env.tun_ifindex), "detach");
	ASSERT_FALSE(tw_dp_attached(env.dp, env.tun_ifindex), "not attached after detach");
	reset_all();
	tun_udp(A4, SVC4, 40000, 6000, 60);
	ASSERT_TRUE(wait_rx(&env.u6000, 1, 2000), "denied port reachable without the filter");
}

/* ------------------------------------------------------ veth scenario */

static bool wait_sock_readable(int fd, unsigned int max_ms)
{
	uint64_t start = e2e_now_ms();

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 5) > 0)
			return true;
		pump();
		if (e2e_now_ms() - start > max_ms)
			return false;
	}
}

/*
 * Programs on a veth (l3_off 14) in front of a client namespace with a real
 * stack: real UDP, TCP and ICMP sockets; ARP must pass. What the client
 * sent and received is captured on its own interface, so drops and byte
 * counts are checked against the wire in both directions.
 */
static void veth_scenario(void)
{
	struct tw_dp_opts o = { .pin_root = "", .l3_off = 14, .max_clients = 64, .max_flows = 1024 };
	struct sockaddr_in svc = { .sin_family = AF_INET };
	int us = -1, icmp = -1, t1 = -1, t2 = -1, afd = -1, one = 1, i, n;
	enum tw_attach_mode used;
	struct tw_client_ctr cc;
	struct tw_rule r[8];
	struct tw_dp *dp;
	char buf[2048];
	size_t nr = 0;

	inet_pton(AF_INET, SVC4, &svc.sin_addr);
	dp = tw_dp_open(&o);
	if (!ASSERT_OK_PTR(dp, "open l3_off 14 dp"))
		return;
	add_rule(r, &nr, TW_LIST_FROM_CLIENT, SVC4 "/32", IPPROTO_UDP, 5000, 5000);
	add_rule(r, &nr, TW_LIST_FROM_CLIENT, SVC4 "/32", IPPROTO_TCP, 8080, 8080);
	add_rule(r, &nr, TW_LIST_FROM_CLIENT, "198.18.0.0/24", IPPROTO_ICMP, 0, 65535);
	{
		struct tw_client c = { .slot = 1,
				       .ifindex = env.clp_ifindex,
				       .tenant = 1,
				       .profile = PROFILE,
				       .state = TW_STATE_PERMIT,
				       .naddrs = 1 };

		tw_addr_parse(CLI4, &c.addrs[0]);
		if (!ASSERT_OK(tw_dp_profile_set(dp, PROFILE, r, nr), "profile") ||
		    !ASSERT_OK(tw_dp_client_add(dp, &c), "client"))
			goto out;
	}
	if (!ASSERT_OK(tw_dp_attach(dp, env.clp_ifindex, TW_ATTACH_AUTO, &used), "attach clp0"))
		goto out;

	if (!ASSERT_OK(e2e_ns_enter(env.ns_cli), "enter cli"))
		goto out;
	env.cap_cli_out = e2e_cap_open("cl1", true);
	env.cap_cli_in = e2e_cap_open("cl1", false);
	us = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	icmp = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
	t1 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	t2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	e2e_ns_enter(env.ns_srv);
	if (!ASSERT_GE(env.cap_cli_out, 0, "cap out") || !ASSERT_GE(env.cap_cli_in, 0, "cap in") ||
	    !ASSERT_GE(us, 0, "udp") || !ASSERT_GE(icmp, 0, "icmp") || !ASSERT_GE(t1, 0, "tcp") ||
	    !ASSERT_GE(t2, 0, "tcp"))
		goto out;
	setsockopt(icmp, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one));
	reset_all();

	/* UDP: 3 allowed (answered), 2 denied */
	for (i = 0; i < 3; i++) {
		svc.sin_port = htons(5000);
		ASSERT_EQ(sendto(us, payload, 120, 0, (struct sockaddr *)&svc, sizeof(svc)), 120,
			  "udp send");
	}
	for (i = 0; i < 2; i++) {
		svc.sin_port = htons(6000);
		sendto(us, payload, 60, 0, (struct sockaddr *)&svc, sizeof(svc));
	}
	ASSERT_TRUE(wait_rx(&env.u5000, 3, 3000), "svc got the allowed datagrams");
	ASSERT_EQ(usock_echo(&env.u5000), 3, "svc answers");
	for (n = 0; n < 3 && wait_sock_readable(us, 2000);)
		while (recv(us, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			n++;
	ASSERT_EQ(n, 3, "client got the replies");

	/* ICMP echo x2 with a real IP stack answering */
	for (i = 0; i < 2; i++) {
		struct pkt_spec s = { .family = 4,
				      .src = CLI4,
				      .dst = SVC4,
				      .proto = IPPROTO_ICMP,
				      .icmp = PKT_ECHO_REQUEST,
				      .sport = 0x55, /* the echo identifier */
				      .ip4_frag = PKT_DF,
				      .no_eth = true,
				      .payload_data = payload,
				      .payload = 32 };
		struct pkt p;

		pkt_build(&p, &s);
		ASSERT_EQ(sendto(icmp, p.data, p.len, 0, (struct sockaddr *)&svc, sizeof(svc)),
			  p.err ? -1 : (ssize_t)p.len, "icmp send");
	}
	{
		struct pkt_match rep = {
			.src = SVC4, .dst = CLI4, .proto = IPPROTO_ICMP, .icmp_type = 0
		};

		ASSERT_TRUE(wait_log(&env.cli_in_log, &rep, 2, 2000), "echo replies at client");
	}

	/* TCP: a real connection to the allowed port, a blocked one to 2323 */
	svc.sin_port = htons(8080);
	if (connect(t1, (struct sockaddr *)&svc, sizeof(svc)) && errno != EINPROGRESS)
		test__fail(__FILE__, __LINE__, "connect 8080: %s", strerror(errno));
	afd = accept_wait(env.tcp8080, 3000);
	if (ASSERT_GE(afd, 0, "accepted 8080")) {
		ASSERT_EQ(send(t1, "ping", 4, MSG_NOSIGNAL), 4, "tcp send");
		ASSERT_TRUE(wait_sock_readable(afd, 2000), "server readable");
		ASSERT_EQ(recv(afd, buf, sizeof(buf), MSG_DONTWAIT), 4, "server got data");
		ASSERT_EQ(send(afd, "pong", 4, MSG_NOSIGNAL), 4, "tcp answer");
		ASSERT_TRUE(wait_sock_readable(t1, 2000), "client readable");
		ASSERT_EQ(recv(t1, buf, sizeof(buf), MSG_DONTWAIT), 4, "client got answer");
	}
	svc.sin_port = htons(2323);
	if (connect(t2, (struct sockaddr *)&svc, sizeof(svc)) && errno != EINPROGRESS)
		test__fail(__FILE__, __LINE__, "connect 2323: %s", strerror(errno));
	{
		struct pollfd p = { .fd = t2, .events = POLLOUT };

		ASSERT_EQ(poll(&p, 1, 300), 0, "connect to 2323 does not complete");
	}
	/* an orderly close, then silence before the counters are read */
	close(t2);
	t2 = -1;
	close(t1);
	t1 = -1;
	e2e_sleep_ms(50);
	if (afd >= 0)
		close(afd);
	afd = -1;
	quiesce(300, 3000);

	if (!ASSERT_OK(tw_dp_counters_read(dp, 1, 1, &cc), "read counters"))
		goto out;
	{
		struct pkt_match
			d6000 = { .src = CLI4, .dst = SVC4, .proto = IPPROTO_UDP, .dport = 6000 },
			d2323 = { .src = CLI4, .dst = SVC4, .proto = IPPROTO_TCP, .dport = 2323 },
			from = { .src = CLI4 }, to = { .dst = CLI4 };
		uint64_t denied = e2e_log_count(&env.cli_out_log, &d6000) +
				  e2e_log_count(&env.cli_out_log, &d2323);
		uint64_t denied_b = e2e_log_bytes(&env.cli_out_log, &d6000) +
				    e2e_log_bytes(&env.cli_out_log, &d2323);

		ASSERT_GE(denied, 3, "denied packets on the wire");
		ASSERT_EQ(e2e_log_count(&env.svc_log, &d6000), 0, "no denied udp at svc");
		ASSERT_EQ(e2e_log_count(&env.svc_log, &d2323), 0, "no denied syn at svc");
		ASSERT_EQ(env.u6000.rx, 0, "svc 6000 got nothing");
		ASSERT_EQ(cc.drops[TW_DROP_NOT_ALLOWED], denied, "drops == denied packets sent");
		ASSERT_EQ(cc.drop_bytes, denied_b, "drop bytes");
		ASSERT_EQ(cc.from_pkts, e2e_log_count(&env.cli_out_log, &from) - denied,
			  "from_pkts == sent - denied");
		ASSERT_EQ(cc.from_pkts, e2e_log_count(&env.svc_log, &from),
			  "from_pkts == packets at svc");
		ASSERT_EQ(cc.from_bytes, e2e_log_bytes(&env.svc_log, &from),
			  "from_bytes == bytes at svc");
		ASSERT_EQ(cc.to_pkts, e2e_log_count(&env.cli_in_log, &to), "to_pkts == received");
		ASSERT_EQ(cc.to_bytes, e2e_log_bytes(&env.cli_in_log, &to),
			  "to_bytes == bytes received");
	}
	ASSERT_OK(tw_dp_detach(dp, env.clp_ifindex), "detach clp0");
out:
	if (afd >= 0)
		close(afd);
	for (i = 0; i < 4; i++) {
		int fds[] = { us, icmp, t1, t2 };

		if (fds[i] >= 0)
			close(fds[i]);
	}
	if (env.cap_cli_out >= 0)
		close(env.cap_cli_out);
	if (env.cap_cli_in >= 0)
		close(env.cap_cli_in);
	env.cap_cli_out = env.cap_cli_in = -1;
	e2e_ns_enter(env.ns_srv);
	tw_dp_close(dp);
}

/* ------------------------------------------------------ coexistence */

static uint64_t map_count(int map_fd)
{
	uint32_t zero = 0;
	uint64_t v = 0;

	bpf_map_lookup_elem(map_fd, &zero, &v);
	return v;
}

static bool wait_count(int map_fd, uint64_t want, unsigned int max_ms)
{
	uint64_t start = e2e_now_ms();

	while (map_count(map_fd) < want) {
		if (e2e_now_ms() - start > max_ms)
			return false;
		pump();
		e2e_sleep_ms(5);
	}
	e2e_sleep_ms(20); /* and no more than that */
	return map_count(map_fd) == want;
}

static bool other_present(enum tw_attach_mode mode, int link_fd)
{
	if (mode == TW_ATTACH_TCX) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);

		return bpf_obj_get_info_by_fd(link_fd, &info, &len) == 0 &&
		       (int)info.xdp.ifindex == env.tun_ifindex; /* tcx.ifindex, same offset */
	} else {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = env.tun_ifindex,
			    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, to, .handle = 0x1234, .priority = 100);

		return bpf_tc_query(&hook, &to) == 0;
	}
}

/*
 * Another program already on tw0's ingress (a tcx link, or a cls_bpf filter
 * with its own handle and priority) keeps running after our attach (behind
 * us: it sees only what we pass) and after our detach.
 */
static void coexist(enum tw_attach_mode mode)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = env.tun_ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = 0x1234, .priority = 100);
	int map, prog = -1, link = -1, i, err;
	bool tc_on = false;

	map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "e2e_cnt", 4, 8, 1, NULL);
	if (!ASSERT_GE(map, 0, "count map"))
		return;
	prog = e2e_counting_prog(map, -1 /* TC_ACT_UNSPEC: pass on */);
	if (!ASSERT_GE(prog, 0, "counting prog"))
		goto out;
	if (mode == TW_ATTACH_TCX) {
		link = bpf_link_create(prog, env.tun_ifindex, TCX_INGRESS, NULL);
		if (!ASSERT_GE(link, 0, "other tcx link"))
			goto out;
	} else {
		err = bpf_tc_hook_create(&hook);
		if (err != -EEXIST && !ASSERT_OK(err, "clsact"))
			goto out;
		to.prog_fd = prog;
		if (!ASSERT_OK(bpf_tc_attach(&hook, &to), "other cls_bpf filter"))
			goto out;
		tc_on = true;
		to.prog_fd = to.prog_id = to.flags = 0;
	}
	if (!ASSERT_OK(load_policy(env.dp, env.tun_ifindex), "policy"))
		goto out;
	reset_all();
	for (i = 0; i < 3; i++)
		tun_udp(A4, SVC4, 40000, 5000, 50);
	ASSERT_TRUE(wait_count(map, 3, 2000), "other prog counts alone");

	if (!ASSERT_OK(tw_dp_attach(env.dp, env.tun_ifindex, mode, NULL), "attach ours"))
		goto out;
	ASSERT_TRUE(other_present(mode, link), "other still attached after our attach");
	for (i = 0; i < 3; i++)
		tun_udp(A4, SVC4, 40000, 5000, 50);
	for (i = 0; i < 2; i++)
		tun_udp(A4, SVC4, 40000, 6000, 50);
	ASSERT_TRUE(wait_rx(&env.u5000, 6, 2000), "allowed delivered");
	ASSERT_TRUE(wait_count(map, 6, 2000), "other prog runs behind ours, sees passed only");
	quiesce(100, 1000);
	ASSERT_EQ(env.u6000.rx, 0, "ours still enforces");

	ASSERT_OK(tw_dp_detach(env.dp, env.tun_ifindex), "detach ours");
	ASSERT_TRUE(other_present(mode, link), "other still attached after our detach");
	for (i = 0; i < 2; i++)
		tun_udp(A4, SVC4, 40000, 6000, 50);
	ASSERT_TRUE(wait_count(map, 8, 2000), "other prog still runs");
	ASSERT_TRUE(wait_rx(&env.u6000, 2, 2000), "no filter of ours left");
out:
	if (tw_dp_attached(env.dp, env.tun_ifindex))
		tw_dp_detach(env.dp, env.tun_ifindex);
	if (tc_on)
		bpf_tc_detach(&hook, &to);
	if (link >= 0)
		close(link); /* an unpinned tcx link goes with its last fd */
	if (prog >= 0)
		close(prog);
	close(map);
}

/* ------------------------------------------------------ re-adoption */

static struct {
	atomic_bool stop;
	atomic_int ok, den;
	atomic_int budget; /* pairs still to send in this window */
} snd;

/* A window's worth of packets, not a flood: a slow guest (6.1 under TCG
 * loads the objects for seconds) would otherwise overrun the receiving
 * socket while the main thread, which drains it, is busy re-opening. */
#define READOPT_BUDGET 200

static void *sender(void *arg)
{
	while (!atomic_load(&snd.stop)) {
		if (atomic_load(&snd.budget) <= 0) {
			usleep(1000);
			continue;
		}
		atomic_fetch_sub(&snd.budget, 1);
		if (tun_udp(A4, SVC4, 40000, 5000, 32) > 0)
			atomic_fetch_add(&snd.ok, 1);
		if (tun_udp(A4, SVC4, 40000, 6000, 32) > 0)
			atomic_fetch_add(&snd.den, 1);
		usleep(200);
	}
	return NULL;
}

/*
 * Close the tw_dp and open a new one on the same pin root three times while
 * a thread keeps sending allowed and denied packets: nothing denied leaks
 * during a swap, and every allowed packet is delivered and counted.
 */
static void readopt(enum tw_attach_mode mode)
{
	enum tw_attach_mode used = TW_ATTACH_AUTO;
	struct tw_client_ctr ca;
	pthread_t th;
	int i;

	if (!ASSERT_OK(tw_dp_attach(env.dp, env.tun_ifindex, mode, NULL), "attach") ||
	    !ASSERT_OK(load_policy(env.dp, env.tun_ifindex), "policy"))
		return;
	reset_all();
	atomic_store(&snd.stop, false);
	atomic_store(&snd.ok, 0);
	atomic_store(&snd.den, 0);
	atomic_store(&snd.budget, READOPT_BUDGET);
	if (!ASSERT_OK(pthread_create(&th, NULL, sender, NULL), "sender thread"))
		goto out;
	for (i = 0; i < 3; i++) {
		uint64_t t0 = e2e_now_ms();

		atomic_store(&snd.budget, READOPT_BUDGET);
		while (e2e_now_ms() - t0 < 60) {
			pump();
			e2e_sleep_ms(2);
		}
		tw_dp_close(env.dp);
		env.dp = tw_dp_open(&env.opts);
		if (!ASSERT_OK_PTR(env.dp, "re-open on the same pin root"))
			break;
		if (!ASSERT_OK(tw_dp_attach(env.dp, env.tun_ifindex, TW_ATTACH_AUTO, &used),
			       "re-attach"))
			break;
		ASSERT_EQ(used, mode, "re-attach keeps the mode");
	}
	atomic_store(&snd.budget, READOPT_BUDGET);
	e2e_sleep_ms(60);
	atomic_store(&snd.stop, true);
	pthread_join(th, NULL);
	quiesce(300, 3000);

	if (env.dp && ASSERT_OK(read_ctr(env.dp, SLOT_A, &ca), "counters")) {
		struct pkt_match d = { .dport = 6000 };
		int ok = atomic_load(&snd.ok), den = atomic_load(&snd.den);

		if (test__verbose())
			test__diag("sent %d allowed, %d denied during 3 swaps", ok, den);
		ASSERT_GT(ok, 50, "traffic during the swaps");
		ASSERT_EQ(env.u6000.rx, 0, "no denied packet leaked");
		ASSERT_EQ(e2e_log_count(&env.svc_log, &d), 0, "no denied packet on svc wire");
		ASSERT_EQ(env.u5000.rx, ok, "every allowed packet delivered");
		ASSERT_EQ(ca.from_pkts, (uint64_t)ok, "every allowed packet counted");
		ASSERT_EQ(ca.drops[TW_DROP_NOT_ALLOWED], (uint64_t)den, "every denied counted");
	}
out:
	if (!env.dp)
		env.dp = tw_dp_open(&env.opts);
	if (env.dp)
		tw_dp_detach(env.dp, env.tun_ifindex);
}

/* ------------------------------------------------------------------ test */

void test_dataplane(void);
void test_dataplane(void)
{
	struct stat st;
	int err;

	if (!test__need_bpffs())
		return;
	if (access("/dev/net/tun", R_OK | W_OK)) {
		test__skip("no /dev/net/tun");
		return;
	}
	{
		/* run.sh bounds the scenario with TW_E2E_TIMEOUT (longer in a VM):
		 * the watchdog stays 10 s inside it */
		const char *t = getenv("TW_E2E_TIMEOUT");
		int secs = t ? atoi(t) - 10 : 110;

		e2e_cleanup_init(secs > 10 ? secs : 110);
	}
	env.tcx = kernel_has_tcx();
	err = setup();
	if (!ASSERT_OK(err, "setup netns, tun, veth, dp")) {
		if (env.dp)
			fprintf(stderr, "%s\n", tw_dp_errstr(env.dp));
		goto out;
	}
	if (test__start_subtest("tun_tcx")) {
		if (env.tcx)
			tun_scenario(TW_ATTACH_TCX);
		else
			test__skip("kernel < 6.6: no tcx");
	}
	if (test__start_subtest("tun_cls_bpf"))
		tun_scenario(TW_ATTACH_TC);
	if (test__start_subtest("veth_l3off14"))
		veth_scenario();
	if (test__start_subtest("coexist_tcx")) {
		if (env.tcx)
			coexist(TW_ATTACH_TCX);
		else
			test__skip("kernel < 6.6: no tcx");
	}
	if (test__start_subtest("coexist_cls_bpf"))
		coexist(TW_ATTACH_TC);
	if (test__start_subtest("readopt_tcx")) {
		if (env.tcx)
			readopt(TW_ATTACH_TCX);
		else
			test__skip("kernel < 6.6: no tcx");
	}
	if (test__start_subtest("readopt_cls_bpf"))
		readopt(TW_ATTACH_TC);
out:
	teardown();
	if (test__start_subtest("cleanup")) {
		char path[64];

		snprintf(path, sizeof(path), "/run/netns/%s", env.ns_srv);
		ASSERT_TRUE(stat(env.pin, &st) && errno == ENOENT, "pin root removed");
		ASSERT_TRUE(stat(path, &st) && errno == ENOENT, "namespaces removed");
	}
}
