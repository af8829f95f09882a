// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <net/if.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "daemon.h"
#include "fileio.h"
#include "links.h"
#include "log.h"
#include "loop.h"
#include "tw_dp.h"

#define TUN_MAX 256 /* tunnels remembered; more are still attached, just not listed */

struct tun {
	char name[IF_NAMESIZE];
	bool detached; /* by an operator: lasts until an attach */
	time_t since; /* of the detach */
	bool failed; /* the last attach failed, with @error */
	char error[160];
	enum tw_attach_mode used;
};

struct tw_links {
	struct tw_watch w;
	struct nl_sock *nl; /* NULL: no link events */
	struct tun tuns[TUN_MAX];
	int ntuns;
	char path[TW_CFG_PATH_MAX + 16]; /* <state_dir>/detached */
};

/* The operator's detaches, one "IFNAME SINCE" a line; a bad line is skipped with a warning. */
static void load_detached(struct tw_links *lk)
{
	char *buf, *line, *save = NULL;
	size_t len;
	int err = tw_read_file(lk->path, &buf, &len);

	if (err) {
		if (err != -ENOENT)
			tw_warn("%s: %s: operator detaches forgotten", lk->path, strerror(-err));
		return;
	}
	for (line = strtok_r(buf, "\n", &save); line && lk->ntuns < TUN_MAX;
	     line = strtok_r(NULL, "\n", &save)) {
		struct tun *t = &lk->tuns[lk->ntuns];
		long long since;
		char name[64];

		if (sscanf(line, "%63s %lld", name, &since) != 2 || strlen(name) >= IF_NAMESIZE) {
			tw_warn("%s: ignoring line '%.80s'", lk->path, line);
			continue;
		}
		*t = (struct tun){ .detached = true, .since = (time_t)since };
		strcpy(t->name, name);
		lk->ntuns++;
	}
	free(buf);
}

static int save_detached(struct tw_links *lk)
{
	char *buf = malloc((size_t)TUN_MAX * (IF_NAMESIZE + 24) + 1);
	size_t n = 0;
	int err;

	if (!buf)
		return -ENOMEM;
	buf[0] = '\0';
	for (int i = 0; i < lk->ntuns; i++)
		if (lk->tuns[i].detached)
			n += (size_t)sprintf(buf + n, "%s %lld\n", lk->tuns[i].name,
					     (long long)lk->tuns[i].since);
	err = tw_write_atomic(lk->path, buf, n);
	free(buf);
	return err;
}

/* The table, created on first use: detach state exists with or without link events. */
static struct tw_links *links(struct tw_daemon *d)
{
	struct tw_links *lk = d->links;

	if (lk)
		return lk;
	lk = calloc(1, sizeof(*lk));
	if (!lk)
		return NULL;
	snprintf(lk->path, sizeof(lk->path), "%s/detached", d->cfg.state_dir);
	load_detached(lk);
	d->links = lk;
	return lk;
}

static struct tun *tun_find(struct tw_links *lk, const char *name)
{
	for (int i = 0; i < lk->ntuns; i++)
		if (!strcmp(lk->tuns[i].name, name))
			return &lk->tuns[i];
	return NULL;
}

/* @name's entry, added if new; NULL when the table is full or @name too long. */
static struct tun *tun_get(struct tw_links *lk, const char *name)
{
	struct tun *t = tun_find(lk, name);

	if (t || lk->ntuns >= TUN_MAX || strlen(name) >= IF_NAMESIZE)
		return t;
	t = &lk->tuns[lk->ntuns++];
	*t = (struct tun){};
	strcpy(t->name, name);
	return t;
}

static int do_attach(struct tw_daemon *d, struct tun *t, const char *ifname, int ifindex)
{
	enum tw_attach_mode used;

	if (tw_dp_attach(d->dp, ifindex, d->cfg.attach_mode, &used)) {
		tw_err("attach to %s: %s", ifname, tw_dp_errstr(d->dp));
		if (t) {
			t->failed = true;
			snprintf(t->error, sizeof(t->error), "%s", tw_dp_errstr(d->dp));
		}
		return -EIO;
	}
	if (t) {
		t->failed = false;
		t->used = used;
	}
	tw_info("enforcing on %s (%s)", ifname, used == TW_ATTACH_TCX ? "tcx" : "cls_bpf");
	return 0;
}

/* At start and on link events: attach unless an operator detached the interface. */
static void maybe_attach(struct tw_daemon *d, const char *ifname, int ifindex)
{
	struct tw_links *lk = links(d);
	struct tun *t;

	if (!tw_config_iface_match(&d->cfg, ifname))
		return;
	t = lk ? tun_get(lk, ifname) : NULL;
	if (t && t->detached) {
		/* pinned tcx links outlive the daemon: a restart must not find one re-attached */
		if (tw_dp_attached(d->dp, ifindex) && !tw_dp_detach(d->dp, ifindex))
			tw_info("detached from %s again (operator detach is in force)", ifname);
		tw_dbg("%s: detached by operator, not attaching", ifname);
		return;
	}
	do_attach(d, t, ifname, ifindex);
}

void tw_links_attach_existing(struct tw_daemon *d)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	struct tw_links *lk = links(d);

	for (i = ifs; i && i->if_index; i++)
		maybe_attach(d, i->if_name, (int)i->if_index);
	if_freenameindex(ifs);
	for (int k = 0; lk && k < lk->ntuns; k++)
		if (lk->tuns[k].detached)
			tw_warn("%s: detached by operator since %lld: not enforced, not counted "
				"(`tunwarden attach %s` lifts it)",
				lk->tuns[k].name, (long long)lk->tuns[k].since, lk->tuns[k].name);
}

/* One tunnel detached by the operator: remembered (@t may be NULL when the table is full),
 * its programs taken off (tw_dp_detach answers -ENOENT when it has none), named in @names. */
static void detach_one(struct tw_daemon *d, struct tun *t, const char *name, int ifindex,
		       time_t now, json_t *names)
{
	if (t && !t->detached)
		t->since = now;
	if (t)
		t->detached = true;
	if (ifindex)
		tw_dp_detach(d->dp, ifindex);
	json_array_append_new(names, json_string(name));
	tw_info("detached from %s by operator", name);
}

json_t *tw_links_detach(struct tw_daemon *d, const char *ifname, char *err, size_t errlen)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	struct tw_links *lk = links(d);
	json_t *names = json_array();
	time_t now = time(NULL);
	int rc;

	if (!lk || !names || !ifs) {
		snprintf(err, errlen, "detach: out of memory");
		goto fail;
	}
	if (ifname && !tw_config_iface_match(&d->cfg, ifname) && !tun_find(lk, ifname)) {
		snprintf(err, errlen,
			 "detach: '%s' is not a tunnel interface (no [interface] "
			 "pattern matches it)",
			 ifname);
		goto fail;
	}
	if (ifname) {
		struct tun *t = tun_get(lk, ifname);
		unsigned int idx = if_nametoindex(ifname);

		if (!t) {
			snprintf(err, errlen, "detach: '%s': name too long or too many tunnels",
				 ifname);
			goto fail;
		}
		detach_one(d, t, ifname, (int)idx, now, names);
	}
	for (i = ifs; !ifname && i->if_index; i++) {
		if (!tw_config_iface_match(&d->cfg, i->if_name) &&
		    !tw_dp_attached(d->dp, (int)i->if_index))
			continue;
		detach_one(d, tun_get(lk, i->if_name), i->if_name, (int)i->if_index, now, names);
	}
	if_freenameindex(ifs);
	rc = save_detached(lk);
	if (rc) {
		snprintf(err, errlen,
			 "detached, but cannot remember it in %s: %s (a restart "
			 "re-attaches)",
			 lk->path, strerror(-rc));
		json_decref(names);
		return NULL;
	}
	return names;
fail:
	if (ifs)
		if_freenameindex(ifs);
	json_decref(names);
	return NULL;
}

json_t *tw_links_attach(struct tw_daemon *d, const char *ifname, char *err, size_t errlen)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	struct tw_links *lk = links(d);
	json_t *names = json_array();
	char failed[256] = "";
	int rc;

	if (!lk || !names || !ifs) {
		snprintf(err, errlen, "attach: out of memory");
		goto fail;
	}
	if (ifname && !tw_config_iface_match(&d->cfg, ifname)) {
		snprintf(err, errlen,
			 "attach: '%s' is not a tunnel interface (no [interface] "
			 "pattern matches it)",
			 ifname);
		goto fail;
	}
	for (int k = 0; k < lk->ntuns; k++)
		if (!ifname || !strcmp(lk->tuns[k].name, ifname))
			lk->tuns[k].detached = false;
	rc = save_detached(lk);
	if (rc) {
		snprintf(err, errlen, "attach: cannot write %s: %s", lk->path, strerror(-rc));
		goto fail;
	}
	for (i = ifs; i->if_index; i++) {
		if ((ifname && strcmp(ifname, i->if_name)) ||
		    !tw_config_iface_match(&d->cfg, i->if_name))
			continue;
		if (do_attach(d, tun_get(lk, i->if_name), i->if_name, (int)i->if_index)) {
			if (!failed[0])
				snprintf(failed, sizeof(failed), "%s: %s", i->if_name,
					 tw_dp_errstr(d->dp));
			continue;
		}
		json_array_append_new(names, json_string(i->if_name));
	}
	if_freenameindex(ifs);
	if (failed[0]) {
		snprintf(err, errlen, "attach to %s", failed);
		json_decref(names);
		return NULL;
	}
	return names;
fail:
	if (ifs)
		if_freenameindex(ifs);
	json_decref(names);
	return NULL;
}

static const char *tun_state(struct tw_daemon *d, const struct tun *t, int ifindex)
{
	if (t->detached)
		return "detached";
	if (!ifindex)
		return "absent";
	if (tw_dp_attached(d->dp, ifindex))
		return "attached";
	return t->failed ? "attach failed" : "not attached";
}

json_t *tw_links_json(struct tw_daemon *d)
{
	struct tw_links *lk = links(d);
	json_t *arr = json_array();

	for (int i = 0; lk && arr && i < lk->ntuns; i++) {
		const struct tun *t = &lk->tuns[i];
		int idx = (int)if_nametoindex(t->name);
		const char *st = tun_state(d, t, idx);
		json_t *o = json_pack("{s:s,s:s,s:b}", "ifname", t->name, "state", st, "present",
				      idx != 0);

		if (!o)
			continue;
		if (t->detached)
			json_object_set_new(o, "since", json_integer((json_int_t)t->since));
		if (!strcmp(st, "attach failed"))
			json_object_set_new(o, "error", json_string(t->error));
		if (!strcmp(st, "attached"))
			json_object_set_new(o, "mode",
					    json_string(t->used == TW_ATTACH_TCX ? "tcx" : "tc"));
		json_array_append_new(arr, o);
	}
	return arr;
}

json_t *tw_links_detached(struct tw_daemon *d)
{
	struct tw_links *lk = links(d);
	json_t *arr = NULL;

	for (int i = 0; lk && i < lk->ntuns; i++) {
		if (!lk->tuns[i].detached)
			continue;
		if (!arr)
			arr = json_array();
		json_array_append_new(arr, json_string(lk->tuns[i].name));
	}
	return arr;
}

/* The tun device's own queue drops, after the tc hook counted the packet (docs/records.md). */
static bool tx_dropped(const char *ifname, unsigned long long *v)
{
	char path[96];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/tx_dropped", ifname);
	f = fopen(path, "re");
	if (!f)
		return false;
	ok = fscanf(f, "%llu", v) == 1;
	fclose(f);
	return ok;
}

/* A label value: interface names may hold '"' and '\\' (only '/', ':' and spaces are refused). */
static const char *label(const char *name, char *buf, size_t len)
{
	size_t o = 0;

	for (; *name && o + 3 < len; name++) {
		if (*name == '"' || *name == '\\')
			buf[o++] = '\\';
		buf[o++] = *name;
	}
	buf[o] = '\0';
	return buf;
}

void tw_links_metrics(struct tw_daemon *d, FILE *f)
{
	char l[2 * IF_NAMESIZE + 1];
	struct tw_links *lk = links(d);
	unsigned long long v;

	if (!lk || !lk->ntuns)
		return;
	fprintf(f, "# HELP tunwarden_tunnel_attached 1 when the dataplane is attached to the "
		   "tunnel, 0 when not (detached by operator, absent, attach failed).\n"
		   "# TYPE tunwarden_tunnel_attached gauge\n");
	for (int i = 0; i < lk->ntuns; i++) {
		int idx = (int)if_nametoindex(lk->tuns[i].name);

		fprintf(f, "tunwarden_tunnel_attached{interface=\"%s\",state=\"%s\"} %d\n",
			label(lk->tuns[i].name, l, sizeof(l)), tun_state(d, &lk->tuns[i], idx),
			!strcmp(tun_state(d, &lk->tuns[i], idx), "attached"));
	}
	fprintf(f, "# HELP tunwarden_tunnel_detached_by_operator 1 while an operator's detach is "
		   "in force.\n# TYPE tunwarden_tunnel_detached_by_operator gauge\n");
	for (int i = 0; i < lk->ntuns; i++)
		fprintf(f, "tunwarden_tunnel_detached_by_operator{interface=\"%s\"} %d\n",
			label(lk->tuns[i].name, l, sizeof(l)), lk->tuns[i].detached);
	fprintf(f, "# HELP tunwarden_tunnel_tx_dropped_total Packets the tun device's queue "
		   "dropped after the tc hook counted them.\n"
		   "# TYPE tunwarden_tunnel_tx_dropped_total counter\n");
	for (int i = 0; i < lk->ntuns; i++)
		if (tx_dropped(lk->tuns[i].name, &v))
			fprintf(f, "tunwarden_tunnel_tx_dropped_total{interface=\"%s\"} %llu\n",
				label(lk->tuns[i].name, l, sizeof(l)), v);
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
	struct tw_links *lk = links(d);
	int err;

	if (!lk)
		return -ENOMEM;
	lk->nl = nl_socket_alloc();
	if (!lk->nl)
		return -ENOMEM;
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
		lk->nl = NULL;
		return -EIO;
	}
	return 0;
}

void tw_links_close(struct tw_daemon *d)
{
	if (!d->links)
		return;
	if (d->links->nl) {
		tw_loop_del(d->loop, &d->links->w);
		nl_socket_free(d->links->nl);
	}
	free(d->links);
	d->links = NULL;
}
