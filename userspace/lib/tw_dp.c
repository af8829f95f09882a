// SPDX-License-Identifier: GPL-2.0-only
/*
 * libtw: loading and pinning tunwarden's BPF object, and re-adopting it.
 * The other concerns live beside this file: tw_dp_attach.c (tcx, cls_bpf,
 * XDP), tw_dp_clients.c, tw_dp_acl.c (allowlist compiling), tw_dp_flows.c
 * (re-checking connections), tw_dp_counters.c, tw_dp_uplink.c (bans, VPN
 * ports), tw_hz.c (the kernel's HZ); addresses and prefixes in tw_addr.c.
 *
 * Persistence model: maps are pinned under <pin_root>/ by libbpf
 * (LIBBPF_PIN_BY_NAME); tcx links under <pin_root>/links/. A new tw_dp
 * loads fresh programs, adopts the pinned maps, and tw_dp_attach() swaps
 * the new program into an existing link (or cls_bpf filter) atomically,
 * so enforcement never pauses across a daemon restart or upgrade.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "safefile.h"
#include "tw_dp_internal.h"
#include "tunwarden.skel.h"

int dp_err(struct tw_dp *dp, int err, const char *fmt, ...)
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
bool tw_quiet; /* around probes whose failure is an answer, not an error */

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

/*
 * The pin root's parent must be a bpf filesystem; /sys/fs/bpf is mounted
 * (mode=0700) if nothing is there yet (a fresh machine), anything else is
 * the admin's. Whoever can write the pin root can delete the live maps, and
 * pins found there are adopted: the root and links/ are created, or
 * accepted, only as directories of ours with mode 0700, checked on an fd
 * opened O_NOFOLLOW. The parent must not let another uid rename them away:
 * ours and not writable by others, or sticky (bpffs's default 1777). libbpf
 * pins by path; through directories checked so, the path is the fd's.
 */
static int pin_root_prepare(const char *pin_root, char *err, size_t errlen)
{
	char parent[256], links[300], *slash;
	const char *base;
	struct statfs sfs;
	struct stat st;
	int pfd, rfd, lfd;

	snprintf(parent, sizeof(parent), "%s", pin_root);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent || !slash[1]) {
		snprintf(err, errlen, "%s: expected /PATH/TO/BPFFS/NAME", pin_root);
		return -EINVAL;
	}
	*slash = '\0';
	base = slash + 1;
	if (statfs(parent, &sfs) || sfs.f_type != BPF_FS_MAGIC) {
		if (strcmp(parent, "/sys/fs/bpf")) {
			snprintf(err, errlen, "%s: its parent is not a bpf filesystem", pin_root);
			return -ENOTSUP;
		}
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
			int e = -errno;

			snprintf(err, errlen, "%s: mount bpffs on /sys/fs/bpf: %s", pin_root,
				 strerror(-e));
			return e;
		}
	}
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 || fstat(pfd, &st)) {
		int e = -errno;

		snprintf(err, errlen, "%s: %s", parent, strerror(-e));
		if (pfd >= 0)
			close(pfd);
		return e;
	}
	if ((st.st_uid != geteuid() && st.st_uid != 0) ||
	    ((st.st_mode & 022) && !(st.st_mode & S_ISVTX))) {
		snprintf(err, errlen,
			 "%s: owned by uid %u with mode %04o: other users could replace the pin "
			 "root in it (it must be owned by root, and sticky if others may write it)",
			 parent, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		close(pfd);
		return -EPERM;
	}
	rfd = tw_dir_secure(pfd, base, pin_root, 0700, TW_DIR_PRIVATE, err, errlen);
	close(pfd);
	if (rfd < 0)
		return rfd;
	snprintf(links, sizeof(links), "%s/links", pin_root);
	lfd = tw_dir_secure(rfd, "links", links, 0700, TW_DIR_PRIVATE, err, errlen);
	close(rfd);
	if (lfd < 0)
		return lfd;
	close(lfd);
	return 0;
}

int tw_dp_hz(const struct tw_dp *dp)
{
	return dp->hz;
}

static const char *const map_names[TW_MAP__MAX] = {
	[TW_MAP_CLIENTS] = "tw1_clients", [TW_MAP_SLOTS] = "tw1_slots",
	[TW_MAP_CCNT] = "tw1_ccnt",	  [TW_MAP_GCNT] = "tw1_gcnt",
	[TW_MAP_ACL] = "tw1_acl",	  [TW_MAP_FLOWS6] = "tw1_flows6",
	[TW_MAP_FLOWS4] = "tw1_flows4",	  [TW_MAP_BANS] = "tw1_bans",
	[TW_MAP_VPORTS] = "tw1_vports",	  [TW_MAP_UCFG] = "tw1_ucfg",
	[TW_MAP_HSRATE] = "tw1_hsrate",	  [TW_MAP_UCNT] = "tw1_ucnt",
	[TW_MAP_CTL] = "tw1_ctl",
};

/* Maps an earlier release of this ABI version pinned under another name
 * (abi.h), { old, new }: moved to the new name, so the live map (and the
 * connections in it) is adopted. */
static const char *const renamed_pins[][2] = {
	{ "tw1_flows", "tw1_flows6" }, /* it only ever held IPv6 */
};

static void pins_rename(const struct tw_dp *dp)
{
	const size_t n = sizeof(renamed_pins) / sizeof(renamed_pins[0]);
	char from[300], to[300];

	for (size_t i = 0; i < n; i++) {
		snprintf(from, sizeof(from), "%s/%s", dp->pin_root, renamed_pins[i][0]);
		snprintf(to, sizeof(to), "%s/%s", dp->pin_root, renamed_pins[i][1]);
		if (access(from, F_OK))
			continue;
		/* both there: the new one is live, the old one a leftover */
		if (access(to, F_OK) ? rename(from, to) : unlink(from))
			fprintf(stderr, "tunwarden: cannot move pin %s to %s: %s\n", from, to,
				strerror(errno));
	}
}

/* The one object: tunnel and uplink programs, one set of maps. */
static int open_object(struct tw_dp *dp, const struct tw_dp_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	struct tw_bpf *skel;
	struct bpf_map *m;
	int err;

	if (dp->pin_root[0]) {
		oo.pin_root_path = dp->pin_root;
		pins_rename(dp);
	}
	skel = dp->skel = tw_bpf__open_opts(&oo);
	if (!skel)
		return dp_err(dp, -errno, "open BPF object: %s", strerror(errno));

	skel->rodata->tw_l3_off = o->l3_off;
	if (o->flow_timeout_ns)
		skel->rodata->tw_flow_timeout_ns = o->flow_timeout_ns;
	dp->hz = o->hz > 0 ? o->hz : o->hz < 0 ? 0 : tw_kernel_hz();
	if (dp->hz < 0)
		dp->hz = 0; /* not known: the coarse clock, same behaviour, one helper call more */
	if (dp->hz > 10000)
		return dp_err(dp, -EINVAL, "flow clock: HZ %d is out of range", dp->hz);
	/* HZ 300: 3,333,333 ns a jiffy, 10^-7 short: 30 us over a 300 s timeout */
	skel->rodata->tw_jiffy_ns = dp->hz ? 1000000000ULL / (unsigned)dp->hz : 0;

	bpf_object__for_each_map(m, skel->obj) {
		if (!dp->pin_root[0] && bpf_map__pin_path(m))
			bpf_map__set_pin_path(m, NULL);
	}
	if (o->max_clients) {
		bpf_map__set_max_entries(skel->maps.tw1_clients, 4 * o->max_clients);
		bpf_map__set_max_entries(skel->maps.tw1_slots, o->max_clients);
		bpf_map__set_max_entries(skel->maps.tw1_ccnt, o->max_clients);
	}
	if (o->max_flows) {
		bpf_map__set_max_entries(skel->maps.tw1_flows6, o->max_flows);
		bpf_map__set_max_entries(skel->maps.tw1_flows4, o->max_flows);
	}

	err = tw_bpf__load(skel);
	if (err)
		return dp_err(dp, err,
			      "load BPF programs: %s (a pinned map under %s with another "
			      "layout or size makes this fail; the verifier log is above)",
			      strerror(-err), dp->pin_root[0] ? dp->pin_root : "(none)");
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
		char why[512];

		err = pin_root_prepare(dp->pin_root, why, sizeof(why));
		if (err) {
			fprintf(stderr, "tunwarden: refusing pin root %s\n", why);
			goto err_free;
		}
	}
	err = open_object(dp, o);
	if (err) {
		fprintf(stderr, "tunwarden: %s\n", dp->err);
		goto err_close;
	}
	for (i = 0; i < TW_MAP__MAX; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(dp->skel->obj, map_names[i]);

		dp->map_fd[i] = m ? bpf_map__fd(m) : -1;
	}
	dp->max_clients = bpf_map__max_entries(dp->skel->maps.tw1_slots);
	return dp;

err_close:
	tw_bpf__destroy(dp->skel);
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
	tw_bpf__destroy(dp->skel);
	free(dp);
}

int tw_dp_prog_fd_in(const struct tw_dp *dp)
{
	return bpf_program__fd(dp->skel->progs.tw_tun_in);
}

int tw_dp_prog_fd_out(const struct tw_dp *dp)
{
	return bpf_program__fd(dp->skel->progs.tw_tun_out);
}

int tw_dp_prog_fd_xdp(const struct tw_dp *dp)
{
	return bpf_program__fd(dp->skel->progs.tw_uplink);
}

int tw_dp_map_fd(const struct tw_dp *dp, enum tw_map_id id)
{
	if ((int)id < 0 || id >= TW_MAP__MAX)
		return -EINVAL;
	return dp->map_fd[id];
}
