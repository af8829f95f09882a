// SPDX-License-Identifier: GPL-2.0-only
/*
 * libtw: loading, attaching and re-adopting tunwarden's BPF objects, and a
 * typed API over their maps. See tw_dp.h.
 *
 * Persistence model: maps are pinned under <pin_root>/ by libbpf
 * (LIBBPF_PIN_BY_NAME); tcx links under <pin_root>/links/. A new tw_dp
 * loads fresh programs, adopts the pinned maps, and tw_dp_attach() swaps
 * the new program into an existing link (or cls_bpf filter) atomically,
 * so enforcement never pauses across a daemon restart or upgrade.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/pkt_cls.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <zlib.h>

#include "tw_dp.h"
#include "tunnel.skel.h"
#include "uplink.skel.h"

/* Not in Debian 12's uapi headers (kernel 6.6+): tcx attach types and the
 * mprog ordering flag. Values are kernel ABI. */
#define TW_BPF_TCX_INGRESS 46
#define TW_BPF_TCX_EGRESS  47
#define TW_BPF_F_BEFORE	   (1U << 3)

/* cls_bpf: our own handle at priority 1, so we run first and never
 * replace anyone else's filter. */
#define TW_TC_HANDLE 0x7477
#define TW_TC_PRIO   1

#define TW_MAX_MEM_LINKS 64

struct tw_mem_link {
	int ifindex;
	int fd[2]; /* in, out */
};

struct tw_dp {
	struct tw_tunnel *tun;
	struct tw_uplink *up;
	char pin_root[256]; /* "" = no pinning */
	int map_fd[TW_MAP__MAX];
	uint32_t max_clients;
	int ncpus;
	int hz; /* of the flow clock; 0: the coarse clock */
	/* tcx links of an unpinned dp (tests) live only as fds */
	struct tw_mem_link mem_links[TW_MAX_MEM_LINKS];
	/* the allowlists this dp installed, for re-checking connections */
	int acl_fd[TW_MAX_PROFILES];
	char err[512];
};

static int dp_err(struct tw_dp *dp, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int dp_err(struct tw_dp *dp, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dp->err, sizeof(dp->err), fmt, ap);
	va_end(ap);
	return err;
}

const char *tw_dp_errstr(const struct tw_dp *dp)
{
	return dp && dp->err[0] ? dp->err : "no error";
}

/* libbpf's own output, demoted: warnings (a failed load, with the
 * verifier log) reach stderr; info and debug only with TW_DEBUG set. */
static bool tw_quiet; /* around probes whose failure is an answer, not an error */

/* libbpf hands us its own format strings: a vprintf wrapper by design */
static int tw_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static int tw_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	static int debug = -1;

	if (debug < 0)
		debug = getenv("TW_DEBUG") != NULL;
	if ((level != LIBBPF_WARN || tw_quiet) && !debug)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* The pin root's parent must be a bpf filesystem; /sys/fs/bpf is mounted
 * if nothing is there yet (a fresh machine), anything else is the admin's. */
static int ensure_bpffs(const char *pin_root)
{
	char parent[256], *slash;
	struct statfs st;

	snprintf(parent, sizeof(parent), "%s", pin_root);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	if (statfs(parent, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		goto mkroot;
	if (strcmp(parent, "/sys/fs/bpf"))
		return -ENOTSUP;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
		return -errno;
mkroot:
	if (mkdir(pin_root, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* CONFIG_HZ=N in a kernel config (plain or gzip: gzopen reads both). */
int tw_config_hz(const char *path)
{
	char line[256];
	gzFile f = gzopen(path, "r");
	int hz = -ENOENT;

	if (!f)
		return -ENOENT;
	while (gzgets(f, line, sizeof(line))) {
		char *end;
		long v;

		if (strncmp(line, "CONFIG_HZ=", 10))
			continue;
		errno = 0;
		v = strtol(line + 10, &end, 10);
		/* Kconfig offers 100, 250, 300 and 1000 (some architectures 24 to 1024) */
		hz = (errno || end == line + 10 || (*end != '\n' && *end) || v < 24 || v > 10000) ?
			     -EINVAL :
			     (int)v;
		break;
	}
	gzclose(f);
	return hz;
}

int tw_kernel_hz(void)
{
	struct utsname u;
	char path[128 + sizeof(u.release)];
	int hz = -ENOENT;

	if (uname(&u) == 0) {
		snprintf(path, sizeof(path), "/boot/config-%s", u.release);
		hz = tw_config_hz(path);
	}
	if (hz == -ENOENT)
		hz = tw_config_hz("/proc/config.gz");
	return hz;
}

int tw_dp_hz(const struct tw_dp *dp)
{
	return dp->hz;
}

static const char *const map_names[TW_MAP__MAX] = {
	[TW_MAP_CLIENTS] = "tw1_clients", [TW_MAP_SLOTS] = "tw1_slots",
	[TW_MAP_CCNT] = "tw1_ccnt",	  [TW_MAP_GCNT] = "tw1_gcnt",
	[TW_MAP_ACL] = "tw1_acl",	  [TW_MAP_FLOWS] = "tw1_flows",
	[TW_MAP_FLOWS4] = "tw1_flows4",	  [TW_MAP_BANS] = "tw1_bans",
	[TW_MAP_VPORTS] = "tw1_vports",	  [TW_MAP_UCFG] = "tw1_ucfg",
	[TW_MAP_HSRATE] = "tw1_hsrate",	  [TW_MAP_UCNT] = "tw1_ucnt",
	[TW_MAP_CTL] = "tw1_ctl",
};

static int open_tunnel(struct tw_dp *dp, const struct tw_dp_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	struct bpf_map *m;
	int err;

	if (dp->pin_root[0])
		oo.pin_root_path = dp->pin_root;
	dp->tun = tw_tunnel__open_opts(&oo);
	if (!dp->tun)
		return dp_err(dp, -errno, "open tunnel object: %s", strerror(errno));

	dp->tun->rodata->tw_l3_off = o->l3_off;
	if (o->flow_timeout_ns)
		dp->tun->rodata->tw_flow_timeout_ns = o->flow_timeout_ns;
	dp->hz = o->hz > 0 ? o->hz : o->hz < 0 ? 0 : tw_kernel_hz();
	if (dp->hz < 0)
		dp->hz = 0; /* not known: the coarse clock, same behaviour, one helper call more */
	if (dp->hz > 10000)
		return dp_err(dp, -EINVAL, "flow clock: HZ %d is out of range", dp->hz);
	/* HZ 300: 3,333,333 ns a jiffy, 10^-7 short: 30 us over a 300 s timeout */
	dp->tun->rodata->tw_jiffy_ns = dp->hz ? 1000000000ULL / (unsigned)dp->hz : 0;

	bpf_object__for_each_map(m, dp->tun->obj) {
		if (!dp->pin_root[0] && bpf_map__pin_path(m))
			bpf_map__set_pin_path(m, NULL);
	}
	if (o->max_clients) {
		bpf_map__set_max_entries(dp->tun->maps.tw1_clients, 4 * o->max_clients);
		bpf_map__set_max_entries(dp->tun->maps.tw1_slots, o->max_clients);
		bpf_map__set_max_entries(dp->tun->maps.tw1_ccnt, o->max_clients);
	}
	if (o->max_flows) {
		bpf_map__set_max_entries(dp->tun->maps.tw1_flows, o->max_flows);
		bpf_map__set_max_entries(dp->tun->maps.tw1_flows4, o->max_flows);
	}

	err = tw_tunnel__load(dp->tun);
	if (err)
		return dp_err(dp, err,
			      "load tunnel programs: %s (a pinned map under %s with another "
			      "layout or size makes this fail; the verifier log is above)",
			      strerror(-err), dp->pin_root[0] ? dp->pin_root : "(none)");
	return 0;
}

/* The uplink object shares every map with the tunnel object. */
static int open_uplink(struct tw_dp *dp)
{
	struct bpf_map *m;
	int err;

	dp->up = tw_uplink__open();
	if (!dp->up)
		return dp_err(dp, -errno, "open uplink object: %s", strerror(errno));
	bpf_object__for_each_map(m, dp->up->obj) {
		struct bpf_map *twin;

		bpf_map__set_pin_path(m, NULL);
		if (bpf_map__type(m) == BPF_MAP_TYPE_ARRAY && strstr(bpf_map__name(m), ".rodata"))
			continue;
		twin = bpf_object__find_map_by_name(dp->tun->obj, bpf_map__name(m));
		if (!twin)
			continue;
		bpf_map__set_max_entries(m, bpf_map__max_entries(twin));
		err = bpf_map__reuse_fd(m, bpf_map__fd(twin));
		if (err)
			return dp_err(dp, err, "share map %s with the uplink object: %s",
				      bpf_map__name(m), strerror(-err));
	}
	err = tw_uplink__load(dp->up);
	if (err)
		return dp_err(dp, err, "load uplink program: %s (verifier log above)",
			      strerror(-err));
	return 0;
}

struct tw_dp *tw_dp_open(const struct tw_dp_opts *opts)
{
	struct tw_dp_opts def = {};
	const struct tw_dp_opts *o = opts ? opts : &def;
	struct tw_dp *dp;
	int err, i;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return NULL;
	for (i = 0; i < TW_MAX_MEM_LINKS; i++)
		dp->mem_links[i].fd[0] = dp->mem_links[i].fd[1] = -1;
	for (i = 0; i < TW_MAX_PROFILES; i++)
		dp->acl_fd[i] = -1;
	snprintf(dp->pin_root, sizeof(dp->pin_root), "%s", o->pin_root ? o->pin_root : TW_PIN_ROOT);
	libbpf_set_print(tw_libbpf_print);

	dp->ncpus = libbpf_num_possible_cpus();
	if (dp->ncpus <= 0) {
		err = dp->ncpus ? dp->ncpus : -EINVAL;
		goto err_free;
	}
	if (dp->pin_root[0]) {
		char links[300];

		err = ensure_bpffs(dp->pin_root);
		if (!err) {
			snprintf(links, sizeof(links), "%s/links", dp->pin_root);
			if (mkdir(links, 0700) && errno != EEXIST)
				err = -errno;
		}
		if (err) {
			fprintf(stderr, "tunwarden: cannot prepare pin root %s: %s\n", dp->pin_root,
				err == -ENOTSUP ? "its parent is not a bpf filesystem" :
						  strerror(-err));
			goto err_free;
		}
	}
	err = open_tunnel(dp, o);
	if (!err)
		err = open_uplink(dp);
	if (err) {
		fprintf(stderr, "tunwarden: %s\n", dp->err);
		goto err_close;
	}
	for (i = 0; i < TW_MAP__MAX; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(dp->tun->obj, map_names[i]);

		dp->map_fd[i] = m ? bpf_map__fd(m) : -1;
	}
	dp->max_clients = bpf_map__max_entries(dp->tun->maps.tw1_slots);
	return dp;

err_close:
	tw_uplink__destroy(dp->up);
	tw_tunnel__destroy(dp->tun);
err_free:
	free(dp);
	errno = -err;
	return NULL;
}

void tw_dp_close(struct tw_dp *dp)
{
	int i;

	if (!dp)
		return;
	/* Unpinned links (tests) go with the dp; pinned ones stay. */
	for (i = 0; i < TW_MAX_MEM_LINKS; i++) {
		if (dp->mem_links[i].fd[0] >= 0)
			close(dp->mem_links[i].fd[0]);
		if (dp->mem_links[i].fd[1] >= 0)
			close(dp->mem_links[i].fd[1]);
	}
	for (i = 0; i < TW_MAX_PROFILES; i++)
		if (dp->acl_fd[i] >= 0)
			close(dp->acl_fd[i]);
	tw_uplink__destroy(dp->up);
	tw_tunnel__destroy(dp->tun);
	free(dp);
}

int tw_dp_prog_fd_in(const struct tw_dp *dp)
{
	return bpf_program__fd(dp->tun->progs.tw_tun_in);
}

int tw_dp_prog_fd_out(const struct tw_dp *dp)
{
	return bpf_program__fd(dp->tun->progs.tw_tun_out);
}

int tw_dp_prog_fd_xdp(const struct tw_dp *dp)
{
	return bpf_program__fd(dp->up->progs.tw_uplink);
}

int tw_dp_map_fd(const struct tw_dp *dp, enum tw_map_id id)
{
	if ((int)id < 0 || id >= TW_MAP__MAX)
		return -EINVAL;
	return dp->map_fd[id];
}

/* ---------------------------------------------------------------- attach */

static void link_pin_path(const struct tw_dp *dp, int ifindex, int dir, char *buf, size_t len)
{
	char ifname[IF_NAMESIZE] = "";

	if (!if_indextoname(ifindex, ifname))
		snprintf(ifname, sizeof(ifname), "if%d", ifindex);
	snprintf(buf, len, "%s/links/%s_%s", dp->pin_root, ifname, dir ? "out" : "in");
}

/* A pinned tcx link for @ifindex that is still attached to it, or -ENOENT.
 * A tun device recreated by a restarted OpenVPN leaves a defunct link
 * behind (ifindex 0): that one is unpinned here. */
static int tcx_link_get(const struct tw_dp *dp, int ifindex, int dir)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	char path[400];
	int fd;

	if (!dp->pin_root[0]) {
		for (int i = 0; i < TW_MAX_MEM_LINKS; i++)
			if (dp->mem_links[i].ifindex == ifindex && dp->mem_links[i].fd[dir] >= 0)
				return fcntl(dp->mem_links[i].fd[dir], F_DUPFD_CLOEXEC, 0);
		return -ENOENT;
	}
	link_pin_path(dp, ifindex, dir, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -ENOENT;
	/* struct bpf_link_info's tcx member postdates libbpf 1.1's headers;
	 * it starts with the ifindex, at the same offset as xdp.ifindex. */
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != 11 /* TCX */ ||
	    (int)info.xdp.ifindex != ifindex) {
		close(fd);
		unlink(path);
		return -ENOENT;
	}
	return fd;
}

static int tcx_attach_one(struct tw_dp *dp, int ifindex, int dir, int prog_fd)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = TW_BPF_F_BEFORE);
	char path[400];
	int fd, err;

	fd = tcx_link_get(dp, ifindex, dir);
	if (fd >= 0) {
		/* re-adoption: swap our new program into the live link */
		err = bpf_link_update(fd, prog_fd, NULL);
		close(fd);
		return err ? -errno : 0;
	}
	fd = bpf_link_create(prog_fd, ifindex, dir ? TW_BPF_TCX_EGRESS : TW_BPF_TCX_INGRESS, &lo);
	if (fd < 0)
		return -errno;
	if (!dp->pin_root[0]) {
		for (int i = 0; i < TW_MAX_MEM_LINKS; i++) {
			struct tw_mem_link *ml = &dp->mem_links[i];

			if (ml->ifindex == ifindex || (ml->fd[0] < 0 && ml->fd[1] < 0)) {
				ml->ifindex = ifindex;
				ml->fd[dir] = fd;
				return 0;
			}
		}
		close(fd);
		return -ENOSPC;
	}
	link_pin_path(dp, ifindex, dir, path, sizeof(path));
	unlink(path);
	err = bpf_obj_pin(fd, path) ? -errno : 0;
	close(fd);
	return err;
}

static int tc_attach_one(struct tw_dp *dp, int ifindex, int dir, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = dir ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = TW_TC_HANDLE, .priority = TW_TC_PRIO,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err;

	tw_quiet = true; /* -EEXIST (clsact already there) is fine */
	err = bpf_tc_hook_create(&hook);
	tw_quiet = false;
	if (err && err != -EEXIST)
		return err;
	/* REPLACE: an existing filter of ours gets the new program atomically */
	return bpf_tc_attach(&hook, &to);
}

static bool tc_attached(int ifindex, int dir)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = dir ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = TW_TC_HANDLE, .priority = TW_TC_PRIO);
	int err;

	tw_quiet = true;
	err = bpf_tc_query(&hook, &to);
	tw_quiet = false;
	return err == 0;
}

static int tc_detach_one(int ifindex, int dir)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = dir ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = TW_TC_HANDLE, .priority = TW_TC_PRIO);

	return bpf_tc_detach(&hook, &to);
}

int tw_dp_attach(struct tw_dp *dp, int ifindex, enum tw_attach_mode mode,
		 enum tw_attach_mode *mode_used)
{
	int fds[2] = { tw_dp_prog_fd_in(dp), tw_dp_prog_fd_out(dp) };
	char ifname[IF_NAMESIZE] = "?";
	int dir, err = 0;

	if_indextoname(ifindex, ifname);
	/* An interface already carrying our cls_bpf filter stays on cls_bpf. */
	if (mode == TW_ATTACH_AUTO && (tc_attached(ifindex, 0) || tc_attached(ifindex, 1)))
		mode = TW_ATTACH_TC;
	if (mode != TW_ATTACH_TC) {
		for (dir = 0; dir < 2 && !err; dir++)
			err = tcx_attach_one(dp, ifindex, dir, fds[dir]);
		if (!err) {
			if (mode_used)
				*mode_used = TW_ATTACH_TCX;
			return 0;
		}
		if (mode == TW_ATTACH_TCX)
			return dp_err(dp, err, "attach tcx to %s: %s (tcx needs kernel 6.6+)",
				      ifname, strerror(-err));
		/* 6.1: no tcx. Undo a half attach, then cls_bpf. */
		tw_dp_detach(dp, ifindex);
	}
	for (dir = 0; dir < 2; dir++) {
		err = tc_attach_one(dp, ifindex, dir, fds[dir]);
		if (err)
			return dp_err(dp, err, "attach cls_bpf to %s %s: %s", ifname,
				      dir ? "egress" : "ingress", strerror(-err));
	}
	if (mode_used)
		*mode_used = TW_ATTACH_TC;
	return 0;
}

bool tw_dp_attached(struct tw_dp *dp, int ifindex)
{
	for (int dir = 0; dir < 2; dir++) {
		int fd = tcx_link_get(dp, ifindex, dir);

		if (fd >= 0) {
			close(fd);
			return true;
		}
		if (tc_attached(ifindex, dir))
			return true;
	}
	return false;
}

int tw_dp_detach(struct tw_dp *dp, int ifindex)
{
	int dir, found = 0;

	for (dir = 0; dir < 2; dir++) {
		int fd = tcx_link_get(dp, ifindex, dir);

		if (fd >= 0) {
			char path[400];

			bpf_link_detach(fd);
			close(fd);
			if (dp->pin_root[0]) {
				link_pin_path(dp, ifindex, dir, path, sizeof(path));
				unlink(path);
			} else {
				for (int i = 0; i < TW_MAX_MEM_LINKS; i++) {
					struct tw_mem_link *ml = &dp->mem_links[i];

					if (ml->ifindex == ifindex && ml->fd[dir] >= 0) {
						close(ml->fd[dir]);
						ml->fd[dir] = -1;
					}
				}
			}
			found++;
		}
		if (tc_attached(ifindex, dir) && tc_detach_one(ifindex, dir) == 0)
			found++;
	}
	return found ? 0 : -ENOENT;
}

int tw_dp_attach_uplink(struct tw_dp *dp, int ifindex)
{
	int fd = tw_dp_prog_fd_xdp(dp), err;

	err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, NULL);
	if (err)
		err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_SKB_MODE, NULL);
	if (err)
		return dp_err(dp, err, "attach XDP to ifindex %d: %s", ifindex, strerror(-err));
	return 0;
}

int tw_dp_detach_uplink(struct tw_dp *dp, int ifindex)
{
	int err = bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);

	if (err)
		err = bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, NULL);
	return err;
}

/* --------------------------------------------------------------- clients */

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

static void addr_mask(uint8_t *addr, unsigned int plen, unsigned int bits)
{
	for (unsigned int i = 0; i < bits / 8; i++) {
		if (plen >= (i + 1) * 8)
			continue;
		if (plen <= i * 8)
			addr[i] = 0;
		else
			addr[i] &= (uint8_t)(0xff << (8 - (plen - i * 8)));
	}
}

int tw_prefix_parse(const char *s, struct tw_addr *a, uint8_t *plen)
{
	char buf[64], *slash, *end;
	struct tw_addr masked;
	unsigned long n;
	unsigned int bits;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (tw_addr_parse(buf, a))
		return -EINVAL;
	bits = a->family == TW_FAM_V4 ? 32 : 128;
	n = bits;
	if (slash) {
		errno = 0;
		n = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || n > bits)
			return -EINVAL;
	}
	/* host bits set: a typo more often than intent */
	masked = *a;
	addr_mask(masked.addr, (unsigned int)n, bits);
	if (memcmp(masked.addr, a->addr, 16))
		return -EINVAL;
	*plen = (uint8_t)n;
	return 0;
}

static void client_key(struct tw_client_key *k, int ifindex, const struct tw_addr *a)
{
	memset(k, 0, sizeof(*k));
	k->ifindex = (uint32_t)ifindex;
	k->family = a->family;
	memcpy(k->addr, a->addr, a->family == TW_FAM_V4 ? 4 : 16);
}

static int map_full_err(struct tw_dp *dp, int err, const char *map)
{
	if (err == -E2BIG || err == -ENOMEM || err == -ENOSPC)
		return dp_err(dp, -ENOSPC, "%s is full: raise its size or remove stale entries",
			      map);
	return dp_err(dp, err, "update %s: %s", map, strerror(-err));
}

static int slot_check(struct tw_dp *dp, uint32_t slot)
{
	if (slot >= dp->max_clients)
		return dp_err(dp, -ERANGE, "slot %u out of range (max %u)", slot, dp->max_clients);
	return 0;
}

static int counters_zero(struct tw_dp *dp, uint32_t slot)
{
	size_t sz = sizeof(struct tw_client_ctr) * (size_t)dp->ncpus;
	void *zero = calloc(1, sz);
	int err;

	if (!zero)
		return -ENOMEM;
	err = bpf_map_update_elem(dp->map_fd[TW_MAP_CCNT], &slot, zero, BPF_ANY) ? -errno : 0;
	free(zero);
	return err;
}

static void client_del_addrs(struct tw_dp *dp, const struct tw_client *c, int upto)
{
	for (int i = 0; i < upto; i++) {
		struct tw_client_key k;
		uint32_t cur;

		for (int pass = 0; pass < 2; pass++) {
			client_key(&k, pass ? 0 : c->ifindex, &c->addrs[i]);
			/* only our own entries: the address may since belong to another */
			if (bpf_map_lookup_elem(dp->map_fd[TW_MAP_CLIENTS], &k, &cur) == 0 &&
			    cur == c->slot)
				bpf_map_delete_elem(dp->map_fd[TW_MAP_CLIENTS], &k);
		}
	}
}

static int addr_gen_bump(struct tw_dp *dp)
{
	uint32_t zero = 0;
	struct tw_ctl ctl;

	if (bpf_map_lookup_elem(dp->map_fd[TW_MAP_CTL], &zero, &ctl))
		return dp_err(dp, -errno, "read tw1_ctl: %s", strerror(errno));
	/* single writer (the daemon); the datapath only compares */
	ctl.addr_gen++;
	if (bpf_map_update_elem(dp->map_fd[TW_MAP_CTL], &zero, &ctl, BPF_ANY))
		return dp_err(dp, -errno, "write tw1_ctl: %s", strerror(errno));
	return 0;
}

int tw_dp_client_add(struct tw_dp *dp, const struct tw_client *c)
{
	struct tw_slot s = {};
	int err, i;

	err = slot_check(dp, c->slot);
	if (err)
		return err;
	if (c->naddrs < 0 || c->naddrs > (int)(sizeof(c->addrs) / sizeof(c->addrs[0])) ||
	    c->state == TW_STATE_FREE || c->state > TW_STATE_BANNED)
		return dp_err(dp, -EINVAL, "client slot %u: bad address count or state", c->slot);
	if (bpf_map_lookup_elem(dp->map_fd[TW_MAP_SLOTS], &c->slot, &s))
		return dp_err(dp, -errno, "read slot %u: %s", c->slot, strerror(errno));

	/* A fresh session: counters from zero, and a new generation so flows
	 * left by the slot's previous occupant never match. */
	err = counters_zero(dp, c->slot);
	if (err)
		return dp_err(dp, err, "zero counters of slot %u: %s", c->slot, strerror(-err));
	s.gen++;
	s.state = c->state;
	s.tenant = c->tenant;
	s.profile = c->profile;
	if (bpf_map_update_elem(dp->map_fd[TW_MAP_SLOTS], &c->slot, &s, BPF_ANY))
		return dp_err(dp, -errno, "write slot %u: %s", c->slot, strerror(errno));

	for (i = 0; i < c->naddrs; i++) {
		struct tw_client_key k;
		uint32_t cur;

		for (int pass = 0; pass < 2; pass++) {
			client_key(&k, pass ? 0 : c->ifindex, &c->addrs[i]);
			if (bpf_map_lookup_elem(dp->map_fd[TW_MAP_CLIENTS], &k, &cur) == 0 &&
			    cur != c->slot) {
				char a[INET6_ADDRSTRLEN];

				inet_ntop(c->addrs[i].family == TW_FAM_V4 ? AF_INET : AF_INET6,
					  c->addrs[i].addr, a, sizeof(a));
				err = dp_err(dp, -EEXIST, "address %s already belongs to slot %u",
					     a, cur);
				goto err_undo;
			}
			if (bpf_map_update_elem(dp->map_fd[TW_MAP_CLIENTS], &k, &c->slot,
						BPF_ANY)) {
				err = map_full_err(dp, -errno, "tw1_clients");
				goto err_undo;
			}
		}
	}
	/* after the addresses are in: admitted connections towards them run
	 * the tenant check again (the address may have belonged to a client of
	 * another tenant, or to none) */
	return addr_gen_bump(dp);

err_undo:
	client_del_addrs(dp, c, i + 1);
	s.state = TW_STATE_FREE;
	bpf_map_update_elem(dp->map_fd[TW_MAP_SLOTS], &c->slot, &s, BPF_ANY);
	return err;
}

int tw_dp_client_set_state(struct tw_dp *dp, uint32_t slot, uint32_t state)
{
	struct tw_slot s;
	int err = slot_check(dp, slot);

	if (err)
		return err;
	if (state > TW_STATE_BANNED)
		return dp_err(dp, -EINVAL, "slot %u: unknown state %u", slot, state);
	if (bpf_map_lookup_elem(dp->map_fd[TW_MAP_SLOTS], &slot, &s))
		return dp_err(dp, -errno, "read slot %u: %s", slot, strerror(errno));
	/* Connections admitted under PERMIT would ride the fast path on into
	 * the sandbox: a new generation makes them start over (BANNED and
	 * FREE are checked on the fast path itself). */
	if (s.state == TW_STATE_PERMIT && state == TW_STATE_SANDBOX)
		s.gen++;
	s.state = state;
	if (bpf_map_update_elem(dp->map_fd[TW_MAP_SLOTS], &slot, &s, BPF_ANY))
		return dp_err(dp, -errno, "write slot %u: %s", slot, strerror(errno));
	return 0;
}

int tw_dp_client_remove(struct tw_dp *dp, const struct tw_client *c)
{
	int err = slot_check(dp, c->slot);

	if (err)
		return err;
	/* state first: the datapath stops admitting before addresses vanish */
	err = tw_dp_client_set_state(dp, c->slot, TW_STATE_FREE);
	client_del_addrs(dp, c, c->naddrs);
	return err;
}

int tw_dp_slot_read(struct tw_dp *dp, uint32_t slot, struct tw_slot *out)
{
	int err = slot_check(dp, slot);

	if (err)
		return err;
	return bpf_map_lookup_elem(dp->map_fd[TW_MAP_SLOTS], &slot, out) ? -errno : 0;
}

/* ------------------------------------------------------------ allowlists */

struct acl_entry {
	struct tw_acl_key key;
	uint8_t plen;
	struct tw_acl_val val;
};

static bool key_same_prefix(const struct tw_acl_key *a, const struct tw_acl_key *b)
{
	return a->prefixlen == b->prefixlen && a->list == b->list && a->family == b->family &&
	       !memcmp(a->addr, b->addr, 16);
}

static int cmp_entry(const void *pa, const void *pb)
{
	const struct acl_entry *a = pa, *b = pb;

	if (a->key.list != b->key.list)
		return a->key.list - b->key.list;
	if (a->key.family != b->key.family)
		return a->key.family - b->key.family;
	if (a->plen != b->plen)
		return a->plen - b->plen;
	return memcmp(a->key.addr, b->key.addr, 16);
}

/* Does prefix @outer (shorter or equal) cover @inner? */
static bool covers(const struct acl_entry *outer, const struct acl_entry *inner)
{
	uint8_t tmp[16];

	if (outer->key.list != inner->key.list || outer->key.family != inner->key.family ||
	    outer->plen > inner->plen)
		return false;
	memcpy(tmp, inner->key.addr, 16);
	addr_mask(tmp, outer->plen, 128);
	return !memcmp(tmp, outer->key.addr, 16);
}

static int val_add_rule(struct tw_acl_val *v, const struct tw_port_rule *r)
{
	for (int i = 0; i < v->nrules; i++)
		if (!memcmp(&v->rules[i], r, sizeof(*r)))
			return 0;
	if (v->nrules >= TW_ACL_RULES_PER_PREFIX)
		return -E2BIG;
	v->rules[v->nrules++] = *r;
	return 0;
}

static int bsearch_prefix(const struct acl_entry *e, size_t n, const struct acl_entry *want)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = cmp_entry(&e[mid], want);

		if (!c)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * Group the rules by prefix, then give each prefix the rules of every
 * prefix that covers it: the trie answers with the longest match only.
 * Sorted by (list, family, plen, addr), the covering prefixes of an entry
 * are found by masking it to each shorter length present and searching.
 */
static int acl_compile(struct tw_dp *dp, uint32_t profile, const struct tw_rule *rules,
		       size_t nrules, struct acl_entry **out, size_t *nout)
{
	char abuf[INET6_ADDRSTRLEN];
	struct acl_entry *e;
	size_t n = 0, i;
	int err = 0;

	e = calloc(nrules ? nrules : 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (i = 0; i < nrules; i++) {
		const struct tw_rule *r = &rules[i];
		unsigned int bits = r->prefix.family == TW_FAM_V4 ? 32 : 128;
		struct acl_entry cand = {};
		struct tw_port_rule pr = { .proto = r->proto,
					   .port_lo = r->port_lo,
					   .port_hi = r->port_hi };
		size_t j;

		if (r->list >= TW_LIST__MAX ||
		    (r->prefix.family != TW_FAM_V4 && r->prefix.family != TW_FAM_V6) ||
		    r->plen > bits || r->port_lo > r->port_hi) {
			err = dp_err(dp, -EINVAL,
				     "profile %u rule %zu: bad list, family, prefix length or port "
				     "range",
				     profile, i);
			goto out;
		}
		cand.key.list = r->list;
		cand.key.family = r->prefix.family;
		cand.plen = r->plen;
		memcpy(cand.key.addr, r->prefix.addr, bits / 8);
		addr_mask(cand.key.addr, r->plen, 128);
		cand.key.prefixlen = TW_ACL_KEY_FIXED_BITS + r->plen;
		for (j = 0; j < n; j++)
			if (key_same_prefix(&e[j].key, &cand.key))
				break;
		if (j == n)
			e[n++] = cand;
		if (val_add_rule(&e[j].val, &pr))
			goto too_many;
	}
	qsort(e, n, sizeof(*e), cmp_entry);

	/* Longer prefixes inherit from shorter ones; process short first so
	 * the inherited sets are complete when a longer prefix reads them. */
	for (i = 0; i < n; i++) {
		for (int q = (int)e[i].plen - 1; q >= 0; q--) {
			struct acl_entry want = e[i];
			int k;

			want.plen = (uint8_t)q;
			addr_mask(want.key.addr, (unsigned int)q, 128);
			k = bsearch_prefix(e, n, &want);
			if (k < 0 || !covers(&e[k], &e[i]))
				continue;
			for (int r = 0; r < e[k].val.nrules; r++)
				if (val_add_rule(&e[i].val, &e[k].val.rules[r]))
					goto too_many_at_i;
			break; /* e[k] already holds everything above it */
		}
	}
	*out = e;
	*nout = n;
	return 0;

too_many_at_i:
	inet_ntop(e[i].key.family == TW_FAM_V4 ? AF_INET : AF_INET6, e[i].key.addr, abuf,
		  sizeof(abuf));
	err = dp_err(dp, -E2BIG,
		     "profile %u: prefix %s/%u is covered by more than %d distinct protocol/port "
		     "rules",
		     profile, abuf, e[i].plen, TW_ACL_RULES_PER_PREFIX);
	goto out;
too_many:
	err = dp_err(dp, -E2BIG, "profile %u: more than %d protocol/port rules on one prefix",
		     profile, TW_ACL_RULES_PER_PREFIX);
out:
	free(e);
	return err;
}

int tw_dp_profile_set(struct tw_dp *dp, uint32_t profile, const struct tw_rule *rules,
		      size_t nrules)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
	struct acl_entry *e = NULL;
	size_t n = 0, i;
	char name[16];
	int fd, err;

	if (profile >= TW_MAX_PROFILES)
		return dp_err(dp, -ERANGE, "profile %u out of range (max %d)", profile,
			      TW_MAX_PROFILES - 1);
	err = acl_compile(dp, profile, rules, nrules, &e, &n);
	if (err)
		return err;
	snprintf(name, sizeof(name), "tw1_acl_%u", profile);
	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, name, sizeof(struct tw_acl_key),
			    sizeof(struct tw_acl_val), n ? (uint32_t)n : 1, &mo);
	if (fd < 0) {
		err = dp_err(dp, -errno, "create allowlist map for profile %u: %s", profile,
			     strerror(errno));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (bpf_map_update_elem(fd, &e[i].key, &e[i].val, BPF_NOEXIST)) {
			err = dp_err(dp, -errno, "fill allowlist of profile %u: %s", profile,
				     strerror(errno));
			goto out_close;
		}
	}
	/* The swap: one update of the outer slot. */
	if (bpf_map_update_elem(dp->map_fd[TW_MAP_ACL], &profile, &fd, BPF_ANY)) {
		err = dp_err(dp, -errno, "install allowlist of profile %u: %s", profile,
			     strerror(errno));
		goto out_close;
	}
	if (dp->acl_fd[profile] >= 0)
		close(dp->acl_fd[profile]);
	dp->acl_fd[profile] = fd;
	fd = -1;
out_close:
	if (fd >= 0)
		close(fd);
out:
	free(e);
	return err;
}

int tw_dp_profile_clear(struct tw_dp *dp, uint32_t profile)
{
	if (profile >= TW_MAX_PROFILES)
		return -ERANGE;
	if (dp->acl_fd[profile] >= 0) {
		close(dp->acl_fd[profile]);
		dp->acl_fd[profile] = -1;
	}
	if (bpf_map_delete_elem(dp->map_fd[TW_MAP_ACL], &profile) && errno != ENOENT)
		return -errno;
	return 0;
}

/*
 * Would the allowlist admit the packet that opened this connection now?
 * The same LPM lookup and rule match the datapath does, on the same map.
 * -ENOENT when this dp has no allowlist of the profile (keep the flow).
 */
static int flow_still_allowed(struct tw_dp *dp, const struct tw_flow_key *k,
			      const struct tw_flow_val *v, const struct tw_slot *sl)
{
	struct tw_acl_key ak = { .family = k->family };
	struct tw_acl_val av;
	bool ports = k->proto == 6 || k->proto == 17 || k->proto == 132 || k->proto == 136;
	uint16_t port;

	if (sl->profile >= TW_MAX_PROFILES || dp->acl_fd[sl->profile] < 0)
		return -ENOENT;
	if (v->opened == TW_DIR_FROM_CLIENT) {
		ak.list = sl->state == TW_STATE_SANDBOX ? TW_LIST_SANDBOX : TW_LIST_FROM_CLIENT;
		port = ntohs(k->rport);
	} else {
		if (sl->state == TW_STATE_SANDBOX)
			return 0;
		ak.list = TW_LIST_TO_CLIENT;
		port = ntohs(k->cport);
	}
	memcpy(ak.addr, k->raddr, 16);
	ak.prefixlen = TW_ACL_KEY_FIXED_BITS + (k->family == TW_FAM_V4 ? 32 : 128);
	if (bpf_map_lookup_elem(dp->acl_fd[sl->profile], &ak, &av))
		return 0;
	for (int i = 0; i < av.nrules && i < TW_ACL_RULES_PER_PREFIX; i++) {
		const struct tw_port_rule *r = &av.rules[i];

		if (r->proto != TW_PROTO_ANY && r->proto != k->proto)
			continue;
		if (!ports) {
			if (r->proto != TW_PROTO_ANY || (r->port_lo == 0 && r->port_hi == 0xffff))
				return 1;
			continue;
		}
		if (port >= r->port_lo && port <= r->port_hi)
			return 1;
	}
	return 0;
}

/* An IPv4 connection's key in the layout the IPv6 map and the checks use. */
static void flow4_widen(struct tw_flow_key *k, const struct tw_flow4_key *k4)
{
	memset(k, 0, sizeof(*k));
	k->ifindex = k4->ifindex;
	k->family = TW_FAM_V4;
	k->proto = k4->proto;
	k->kind = k4->kind;
	k->cport = k4->cport;
	k->rport = k4->rport;
	memcpy(k->caddr, &k4->caddr, 4);
	memcpy(k->raddr, &k4->raddr, 4);
}

/* One connection map: collect the dead keys first (deleting while walking
 * would restart the walk), then delete them. Returns how many went. */
static int flows_revalidate_map(struct tw_dp *dp, int fd, size_t key_size, bool v4)
{
	union {
		struct tw_flow_key k6;
		struct tw_flow4_key k4;
	} k, next;
	unsigned char *dead = NULL;
	size_t ndead = 0, cap = 0;
	bool first = true;
	int n = 0, err = 0;

	while (bpf_map_get_next_key(fd, first ? NULL : &k, &next) == 0) {
		struct tw_flow_key wide;
		struct tw_flow_val v;
		struct tw_slot sl;
		bool drop;

		k = next;
		first = false;
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue; /* evicted meanwhile */
		if (v.slot >= dp->max_clients ||
		    bpf_map_lookup_elem(dp->map_fd[TW_MAP_SLOTS], &v.slot, &sl))
			continue;
		if (v4)
			flow4_widen(&wide, &k.k4);
		else
			wide = k.k6;
		/* connections of ended sessions are dead weight: the datapath
		 * already ignores them (generation), the LRU would age them out */
		drop = sl.gen != v.gen || sl.state == TW_STATE_FREE;
		if (!drop && wide.kind == TW_FLOW_CONN)
			drop = flow_still_allowed(dp, &wide, &v, &sl) == 0;
		if (!drop)
			continue;
		if (ndead == cap) {
			size_t ncap = cap ? 2 * cap : 256;
			unsigned char *nd = realloc(dead, ncap * key_size);

			if (!nd) {
				err = -ENOMEM;
				break;
			}
			dead = nd;
			cap = ncap;
		}
		memcpy(dead + ndead++ * key_size, &k, key_size);
	}
	for (size_t i = 0; i < ndead; i++)
		if (bpf_map_delete_elem(fd, dead + i * key_size) == 0)
			n++;
	free(dead);
	return err ? err : n;
}

int tw_dp_flows_revalidate(struct tw_dp *dp)
{
	int n4, n6, err = 0;

	n4 = flows_revalidate_map(dp, dp->map_fd[TW_MAP_FLOWS4], sizeof(struct tw_flow4_key), true);
	n6 = flows_revalidate_map(dp, dp->map_fd[TW_MAP_FLOWS], sizeof(struct tw_flow_key), false);
	/* After the deletes (a failed walk may have deleted some too): the
	 * per-CPU connection caches of the datapath then forget every
	 * connection they hold, since they read the generation before they
	 * look a connection up in tw1_flows4. */
	if (n4 || n6)
		err = addr_gen_bump(dp);
	if (n4 < 0 || n6 < 0)
		return dp_err(dp, n4 < 0 ? n4 : n6, "revalidate connections: %s",
			      strerror(n4 < 0 ? -n4 : -n6));
	if (err)
		return err;
	return n4 + n6;
}

/* -------------------------------------------------------------- counters */

static void ctr_sum(struct tw_client_ctr *dst, const struct tw_client_ctr *percpu, int ncpus)
{
	memset(dst, 0, sizeof(*dst));
	for (int c = 0; c < ncpus; c++) {
		const struct tw_client_ctr *v = &percpu[c];

		dst->from_bytes += v->from_bytes;
		dst->from_pkts += v->from_pkts;
		dst->to_bytes += v->to_bytes;
		dst->to_pkts += v->to_pkts;
		for (int r = 0; r < TW_DROP__MAX; r++)
			dst->drops[r] += v->drops[r];
		dst->drop_bytes += v->drop_bytes;
	}
}

#define TW_CTR_BATCH 1024

int tw_dp_counters_read(struct tw_dp *dp, uint32_t first, uint32_t n, struct tw_client_ctr *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	struct tw_client_ctr *buf;
	uint32_t *keys, done = 0;
	int err = 0;

	if (first >= dp->max_clients || n > dp->max_clients - first)
		return dp_err(dp, -ERANGE, "counter range %u+%u beyond %u slots", first, n,
			      dp->max_clients);
	buf = calloc((size_t)TW_CTR_BATCH * (size_t)dp->ncpus, sizeof(*buf));
	keys = calloc(TW_CTR_BATCH, sizeof(*keys));
	if (!buf || !keys) {
		err = -ENOMEM;
		goto out;
	}
	while (done < n) {
		/* batch lookup continues after in_batch: pass the slot before */
		uint32_t in = first + done - 1, outb, count = n - done;

		if (count > TW_CTR_BATCH)
			count = TW_CTR_BATCH;
		if (bpf_map_lookup_batch(dp->map_fd[TW_MAP_CCNT], first + done ? &in : NULL, &outb,
					 keys, buf, &count, &bo) &&
		    errno != ENOENT) {
			err = dp_err(dp, -errno, "read counters: %s", strerror(errno));
			goto out;
		}
		if (!count)
			break;
		for (uint32_t i = 0; i < count && done < n; i++, done++)
			ctr_sum(&out[done], &buf[(size_t)i * (size_t)dp->ncpus], dp->ncpus);
	}
	if (done < n)
		err = dp_err(dp, -EIO, "read counters: short batch (%u of %u)", done, n);
out:
	free(buf);
	free(keys);
	return err;
}

static int gctr_read(struct tw_dp *dp, int fd, uint32_t nidx, struct tw_gctr *out)
{
	struct tw_gctr *pc = calloc((size_t)dp->ncpus, sizeof(*pc));

	if (!pc)
		return -ENOMEM;
	for (uint32_t i = 0; i < nidx; i++) {
		out[i].pkts = out[i].bytes = 0;
		if (bpf_map_lookup_elem(fd, &i, pc)) {
			int err = -errno;

			free(pc);
			return err;
		}
		for (int c = 0; c < dp->ncpus; c++) {
			out[i].pkts += pc[c].pkts;
			out[i].bytes += pc[c].bytes;
		}
	}
	free(pc);
	return 0;
}

int tw_dp_gcounters_read(struct tw_dp *dp, struct tw_gctr out[TW_G__MAX])
{
	return gctr_read(dp, dp->map_fd[TW_MAP_GCNT], TW_G__MAX, out);
}

int tw_dp_ucounters_read(struct tw_dp *dp, struct tw_gctr out[TW_U__MAX])
{
	return gctr_read(dp, dp->map_fd[TW_MAP_UCNT], TW_U__MAX, out);
}

/* ---------------------------------------------------------------- uplink */

static void ban_key(struct tw_ban_key *k, const struct tw_addr *a, uint8_t plen)
{
	memset(k, 0, sizeof(*k));
	k->family = a->family;
	k->prefixlen = TW_BAN_KEY_FIXED_BITS + plen;
	memcpy(k->addr, a->addr, a->family == TW_FAM_V4 ? 4 : 16);
	addr_mask(k->addr, plen, 128);
}

int tw_dp_ban_add(struct tw_dp *dp, const struct tw_addr *a, uint8_t plen, uint64_t ttl_ns)
{
	struct tw_ban_val v = {};
	struct tw_ban_key k;
	struct timespec ts;

	if (plen > (a->family == TW_FAM_V4 ? 32 : 128))
		return dp_err(dp, -EINVAL, "ban: prefix length %u too long", plen);
	if (ttl_ns) {
		/* bpf_ktime_get_ns() is CLOCK_MONOTONIC */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		v.expires_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec + ttl_ns;
	}
	ban_key(&k, a, plen);
	if (bpf_map_update_elem(dp->map_fd[TW_MAP_BANS], &k, &v, BPF_ANY))
		return map_full_err(dp, -errno, "tw1_bans");
	return 0;
}

int tw_dp_ban_remove(struct tw_dp *dp, const struct tw_addr *a, uint8_t plen)
{
	struct tw_ban_key k;

	ban_key(&k, a, plen);
	return bpf_map_delete_elem(dp->map_fd[TW_MAP_BANS], &k) ? -errno : 0;
}

/*
 * Delete expired bans. The trie answers with the longest matching prefix
 * only, so an expired /32 would otherwise hide a live /24 covering it.
 * Returns the number removed.
 */
int tw_dp_ban_sweep(struct tw_dp *dp)
{
	struct tw_ban_key k, next, *prev = NULL;
	struct tw_ban_key dead[256];
	struct tw_ban_val v;
	struct timespec ts;
	uint64_t now;
	int n = 0, fd = dp->map_fd[TW_MAP_BANS];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	/* collect first: deleting while walking a trie restarts the walk */
	while (n < 256 && bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (bpf_map_lookup_elem(fd, &next, &v) == 0 && v.expires_ns && v.expires_ns <= now)
			dead[n++] = next;
		k = next;
		prev = &k;
	}
	for (int i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &dead[i]);
	return n;
}

int tw_dp_vport_add(struct tw_dp *dp, uint8_t proto, uint16_t port, uint32_t kind)
{
	struct tw_vport_key k = { .proto = proto, .port = htons(port) };
	struct tw_vport_val v = { .kind = kind };

	if (bpf_map_update_elem(dp->map_fd[TW_MAP_VPORTS], &k, &v, BPF_ANY))
		return map_full_err(dp, -errno, "tw1_vports");
	return 0;
}

int tw_dp_uplink_config(struct tw_dp *dp, const struct tw_uplink_cfg *cfg)
{
	uint32_t zero = 0;

	if (bpf_map_update_elem(dp->map_fd[TW_MAP_UCFG], &zero, cfg, BPF_ANY))
		return dp_err(dp, -errno, "write uplink config: %s", strerror(errno));
	return 0;
}
