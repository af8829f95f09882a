// SPDX-License-Identifier: GPL-2.0-only
/*
 * libtw: attaching the programs. Tunnel interfaces get tw_tun_in/out on TC
 * ingress/egress through tcx links (kernel 6.6+; pinned under
 * <pin_root>/links/, so they outlive the daemon) or netlink cls_bpf
 * filters of our own handle (6.1); the uplink gets tw_uplink as XDP.
 * Re-attaching swaps the new program into the live link or filter.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tw_dp_internal.h"

/* Not in Debian 12's uapi headers (kernel 6.6+): tcx attach types and the
 * mprog ordering flag. Values are kernel ABI. */
#define TW_BPF_TCX_INGRESS 46
#define TW_BPF_TCX_EGRESS  47
#define TW_BPF_F_BEFORE	   (1U << 3)

/* cls_bpf: our own handle at priority 1, so we run first and never
 * replace anyone else's filter. */
#define TW_TC_HANDLE 0x7477
#define TW_TC_PRIO   1

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
