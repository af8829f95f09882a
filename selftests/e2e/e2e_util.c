// SPDX-License-Identifier: GPL-2.0-only
/* Namespaces, tun, packets and captures for e2e tests and benches; see e2e_util.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <bpf/bpf.h>

#include "e2e_util.h"

#define NETNS_DIR "/run/netns"
#define MAX_REG	  16

static char reg_ns[MAX_REG][64];
static char reg_pin[MAX_REG][256];
static volatile sig_atomic_t cleaning;
static int orig_ns_fd = -1;

static void orig_ns_save(void)
{
	if (orig_ns_fd < 0)
		orig_ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void e2e_rm_tree(const char *path)
{
	nftw(path, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

void e2e_cleanup(void)
{
	int i;

	if (cleaning)
		return;
	cleaning = 1;
	if (orig_ns_fd >= 0)
		setns(orig_ns_fd, CLONE_NEWNET);
	for (i = 0; i < MAX_REG; i++) {
		if (reg_ns[i][0]) {
			e2e_ns_delete(reg_ns[i]);
			reg_ns[i][0] = '\0';
		}
		if (reg_pin[i][0]) {
			e2e_rm_tree(reg_pin[i]);
			reg_pin[i][0] = '\0';
		}
	}
	cleaning = 0;
}

static void on_signal(int sig)
{
	static const char msg[] = "Bail out! e2e: fatal signal or watchdog, cleaning up\n";
	ssize_t r;

	r = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	(void)r;
	/* Not strictly async-signal-safe (nftw), but the process is about to
	 * die anyway: leaving namespaces and pins behind is the worse outcome. */
	e2e_cleanup();
	_exit(sig == SIGALRM ? 124 : 128 + sig);
}

void e2e_cleanup_init(unsigned int watchdog_s)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGALRM, SIGQUIT };

	orig_ns_save();
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	atexit(e2e_cleanup);
	if (watchdog_s)
		alarm(watchdog_s);
}

void e2e_cleanup_add_pindir(const char *path)
{
	for (int i = 0; i < MAX_REG; i++) {
		if (!reg_pin[i][0]) {
			snprintf(reg_pin[i], sizeof(reg_pin[i]), "%s", path);
			return;
		}
	}
}

static void reg_ns_add(const char *name)
{
	for (int i = 0; i < MAX_REG; i++) {
		if (!reg_ns[i][0]) {
			snprintf(reg_ns[i], sizeof(reg_ns[i]), "%s", name);
			return;
		}
	}
}

/* ------------------------------------------------------------ namespaces */

void e2e_ns_delete(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	umount2(path, MNT_DETACH);
	unlink(path);
	for (int i = 0; i < MAX_REG; i++)
		if (!strcmp(reg_ns[i], name))
			reg_ns[i][0] = '\0';
}

int e2e_ns_create(const char *name)
{
	char path[128];
	int fd, err = 0;

	orig_ns_save();
	if (orig_ns_fd < 0)
		return -errno;
	if (mkdir(NETNS_DIR, 0755) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	e2e_ns_delete(name); /* a stale one from a killed run */
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	close(fd);
	reg_ns_add(name);
	/* unshare moves this thread only; the bind mount keeps the namespace
	 * alive after we move back */
	if (unshare(CLONE_NEWNET)) {
		err = -errno;
		goto out_fail;
	}
	if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL))
		err = -errno;
	if (setns(orig_ns_fd, CLONE_NEWNET) && !err)
		err = -errno;
	if (err)
		goto out_fail;
	/* loopback up: local sockets and ping inside the namespace */
	return e2e_ip_batch(name, "link set lo up\n");
out_fail:
	e2e_ns_delete(name);
	return err;
}

int e2e_ns_enter(const char *name)
{
	char path[128];
	int fd, err = 0;

	orig_ns_save();
	if (!name || !name[0])
		return setns(orig_ns_fd, CLONE_NEWNET) ? -errno : 0;
	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET))
		err = -errno;
	close(fd);
	return err;
}

static int status_err(int st)
{
	if (st == -1)
		return -errno;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	return WIFEXITED(st) ? -WEXITSTATUS(st) - 1000 : -EINTR;
}

int e2e_ip_batch(const char *ns, const char *cmds)
{
	char cmd[160];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip -n %s -batch -", ns);
	f = popen(cmd, "w");
	if (!f)
		return -errno;
	fputs(cmds, f);
	return status_err(pclose(f));
}

int e2e_ns_system(const char *ns, const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int err;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (!ns)
		return status_err(system(cmd));
	/* system() forks this thread: the child starts in our namespace */
	{
		int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

		if (self < 0)
			return -errno;
		err = e2e_ns_enter(ns);
		if (!err)
			err = status_err(system(cmd));
		setns(self, CLONE_NEWNET);
		close(self);
	}
	return err;
}

int e2e_sysctl(const char *key, const char *val)
{
	char path[256];
	int fd, err = 0;
	size_t i;

	snprintf(path, sizeof(path), "/proc/sys/%s", key);
	for (i = strlen("/proc/sys/"); path[i]; i++)
		if (path[i] == '.')
			path[i] = '/';
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		err = -errno;
	close(fd);
	return err;
}

int e2e_ifindex(const char *ns, const char *ifname)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), idx = 0;

	if (self < 0)
		return -errno;
	if (!e2e_ns_enter(ns))
		idx = (int)if_nametoindex(ifname);
	setns(self, CLONE_NEWNET);
	close(self);
	return idx;
}

/* ------------------------------------------------------------------- tun */

int e2e_tun_open(const char *name)
{
	struct ifreq ifr = {};
	int fd;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* --------------------------------------------------------------- packets */

int e2e_pkt_parse(const uint8_t *b, size_t n, struct pkt_info *pi)
{
	const uint8_t *h;
	size_t l3, tot;

	memset(pi, 0, sizeof(*pi));
	if (n < 20)
		return -EINVAL;
	if ((b[0] >> 4) == 4) {
		l3 = (size_t)(b[0] & 15) * 4;
		tot = (size_t)(b[2] << 8 | b[3]);
		if (l3 < 20 || tot < l3 || tot > n)
			return -EINVAL;
		pi->family = 4;
		pi->proto = b[9];
		memcpy(pi->src, b + 12, 4);
		memcpy(pi->dst, b + 16, 4);
	} else if ((b[0] >> 4) == 6) {
		if (n < 40)
			return -EINVAL;
		l3 = 40;
		tot = 40 + (size_t)(b[4] << 8 | b[5]);
		if (tot > n)
			return -EINVAL;
		pi->family = 6;
		pi->proto = b[6];
		memcpy(pi->src, b + 8, 16);
		memcpy(pi->dst, b + 24, 16);
	} else {
		return -EINVAL;
	}
	pi->len = (uint32_t)tot;
	h = b + l3;
	switch (pi->proto) {
	case IPPROTO_UDP:
	case IPPROTO_TCP:
		if (tot < l3 + 8)
			return 0;
		pi->sport = (uint16_t)(h[0] << 8 | h[1]);
		pi->dport = (uint16_t)(h[2] << 8 | h[3]);
		if (pi->proto == IPPROTO_TCP && tot >= l3 + 20) {
			pi->seq = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 |
				  (uint32_t)h[6] << 8 | h[7];
			pi->ack = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 |
				  (uint32_t)h[10] << 8 | h[11];
			pi->tcp_flags = h[13];
			pi->payload_len = (uint16_t)(tot - l3 - (size_t)(h[12] >> 4) * 4);
		} else if (pi->proto == IPPROTO_UDP) {
			pi->payload_len = (uint16_t)(tot - l3 - 8);
		}
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (tot < l3 + 8)
			return 0;
		pi->icmp_type = h[0];
		pi->sport = pi->dport = (uint16_t)(h[4] << 8 | h[5]);
		break;
	}
	return 0;
}

bool e2e_addr_eq(const struct pkt_info *pi, bool dst, const char *addr)
{
	uint8_t a[16] = {};

	if (inet_pton(pi->family == 6 ? AF_INET6 : AF_INET, addr, a) != 1)
		return false;
	return !memcmp(dst ? pi->dst : pi->src, a, pi->family == 6 ? 16 : 4);
}

void e2e_log_free(struct pkt_log *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void e2e_log_reset(struct pkt_log *l)
{
	l->n = 0;
}

static int log_add(struct pkt_log *l, const uint8_t *buf, size_t n)
{
	struct pkt_info pi;

	if (e2e_pkt_parse(buf, n, &pi))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct pkt_info *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = pi;
	return 1;
}

int e2e_tun_drain(int fd, struct pkt_log *l)
{
	uint8_t buf[65536];
	int cnt = 0;

	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r <= 0)
			break;
		if (log_add(l, buf, (size_t)r) > 0)
			cnt++;
	}
	return cnt;
}

int e2e_cap_open(const char *ifname, bool outgoing)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int fd, sz = 4 << 20;

	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		int err = sll.sll_ifindex ? -errno : -ENODEV;

		close(fd);
		return err;
	}
	(void)outgoing;
	return fd;
}

int e2e_cap_drain(int fd, bool outgoing, struct pkt_log *l)
{
	uint8_t buf[65536];
	int cnt = 0;

	for (;;) {
		struct sockaddr_ll sll = {};
		socklen_t sl = sizeof(sll);
		ssize_t r = recvfrom(fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&sll, &sl);

		if (r <= 0)
			break;
		if (outgoing != (sll.sll_pkttype == PACKET_OUTGOING))
			continue;
		if (sll.sll_protocol != htons(ETH_P_IP) && sll.sll_protocol != htons(ETH_P_IPV6))
			continue;
		if ((size_t)r > sizeof(buf))
			r = sizeof(buf);
		if (log_add(l, buf, (size_t)r) > 0)
			cnt++;
	}
	return cnt;
}

static bool match(const struct pkt_info *pi, const struct pkt_match *m)
{
	if (m->src && !e2e_addr_eq(pi, false, m->src))
		return false;
	if (m->dst && !e2e_addr_eq(pi, true, m->dst))
		return false;
	if (m->proto && pi->proto != m->proto)
		return false;
	if (m->dport && pi->dport != m->dport)
		return false;
	if (m->sport && pi->sport != m->sport)
		return false;
	if ((pi->proto == IPPROTO_ICMP || pi->proto == IPPROTO_ICMPV6) && !m->any_icmp_type &&
	    m->proto && pi->icmp_type != m->icmp_type)
		return false;
	return true;
}

size_t e2e_log_count(const struct pkt_log *l, const struct pkt_match *m)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += match(&l->v[i], m);
	return n;
}

uint64_t e2e_log_bytes(const struct pkt_log *l, const struct pkt_match *m)
{
	uint64_t b = 0;

	for (size_t i = 0; i < l->n; i++)
		if (match(&l->v[i], m))
			b += l->v[i].len;
	return b;
}

const struct pkt_info *e2e_log_find(const struct pkt_log *l, const struct pkt_match *m)
{
	for (size_t i = 0; i < l->n; i++)
		if (match(&l->v[i], m))
			return &l->v[i];
	return NULL;
}

uint64_t e2e_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void e2e_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ------------------------------------------------------------- raw BPF */

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

int e2e_counting_prog(int map_fd, int verdict)
{
	struct bpf_insn insns[] = {
		INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0), /* key = 0 */
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4),
		INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_fd),
		INSN(0, 0, 0, 0, 0),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 2, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, 1),
		INSN(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_0, BPF_REG_1, 0, BPF_ADD),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, verdict),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "e2e_count", "GPL", insns,
			       sizeof(insns) / sizeof(insns[0]), NULL);

	return fd < 0 ? -errno : fd;
}
