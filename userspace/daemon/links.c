// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "daemon.h"
#include "links.h"
#include "log.h"
#include "loop.h"
#include "tw_dp.h"

struct tw_links {
	struct tw_watch w;
	struct nl_sock *nl;
};

static void maybe_attach(struct tw_daemon *d, const char *ifname, int ifindex)
{
	enum tw_attach_mode used;

	if (!tw_config_iface_match(&d->cfg, ifname))
		return;
	if (tw_dp_attach(d->dp, ifindex, d->cfg.attach_mode, &used)) {
		tw_err("attach to %s: %s", ifname, tw_dp_errstr(d->dp));
		return;
	}
	tw_info("enforcing on %s (%s)", ifname, used == TW_ATTACH_TCX ? "tcx" : "cls_bpf");
}

void tw_links_attach_existing(struct tw_daemon *d)
{
	struct if_nameindex *ifs = if_nameindex(), *i;

	for (i = ifs; i && i->if_index; i++)
		maybe_attach(d, i->if_name, (int)i->if_index);
	if_freenameindex(ifs);
}

int tw_links_detach(struct tw_daemon *d, const char *ifname)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int n = 0;

	for (i = ifs; i && i->if_index; i++)
		if ((!ifname || !strcmp(ifname, "all") || !strcmp(ifname, i->if_name)) &&
		    !tw_dp_detach(d->dp, (int)i->if_index)) {
			tw_info("detached from %s", i->if_name);
			n++;
		}
	if_freenameindex(ifs);
	return n;
}

static void nl_link_obj(struct nl_object *obj, void *arg)
{
	struct rtnl_link *l = (struct rtnl_link *)obj;
	const char *name = rtnl_link_get_name(l);

	if (name && (rtnl_link_get_flags(l) & IFF_UP))
		maybe_attach(arg, name, rtnl_link_get_ifindex(l));
}

static int nl_link_msg(struct nl_msg *msg, void *arg)
{
	if (nlmsg_hdr(msg)->nlmsg_type == RTM_NEWLINK)
		nl_msg_parse(msg, nl_link_obj, arg);
	return NL_OK;
}

static void links_readable(void *ctx)
{
	struct tw_daemon *d = ctx;

	nl_recvmsgs_default(d->links->nl);
}

int tw_links_watch(struct tw_daemon *d)
{
	struct tw_links *lk = calloc(1, sizeof(*lk));
	int err;

	if (!lk)
		return -ENOMEM;
	lk->nl = nl_socket_alloc();
	if (!lk->nl) {
		free(lk);
		return -ENOMEM;
	}
	nl_socket_disable_seq_check(lk->nl);
	nl_socket_modify_cb(lk->nl, NL_CB_VALID, NL_CB_CUSTOM, nl_link_msg, d);
	err = nl_connect(lk->nl, NETLINK_ROUTE);
	if (!err)
		err = nl_socket_add_membership(lk->nl, RTNLGRP_LINK);
	if (!err)
		err = nl_socket_set_nonblocking(lk->nl);
	lk->w = (struct tw_watch){ .name = "netlink links",
				   .fd = nl_socket_get_fd(lk->nl),
				   .fn = links_readable,
				   .ctx = d };
	if (err || tw_loop_add(d->loop, &lk->w)) {
		nl_socket_free(lk->nl);
		free(lk);
		return -EIO;
	}
	d->links = lk;
	return 0;
}

void tw_links_close(struct tw_daemon *d)
{
	if (!d->links)
		return;
	tw_loop_del(d->loop, &d->links->w);
	nl_socket_free(d->links->nl);
	free(d->links);
	d->links = NULL;
}
