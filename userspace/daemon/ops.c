// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control ops: each row of tw_ctl_ops (lib/ctl.c: name, who may call,
 * help) has its handler here. Handlers turn requests into calls on the
 * modules and their results into the response shapes of
 * docs/ctl-protocol.md; they decide nothing themselves.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "admission.h"
#include "conf.h"
#include "ctl.h"
#include "ctlsrv.h"
#include "daemon.h"
#include "journal.h"
#include "links.h"
#include "log.h"
#include "policy.h"
#include "policysrc.h"
#include "sessions.h"
#include "status.h"
#include "tw_dp.h"

typedef json_t *(*op_fn)(struct tw_daemon *d, json_t *req, const char *op);

static const char *req_str(const json_t *req, const char *k)
{
	return json_string_value(json_object_get(req, k));
}

/* ------------------------------------------------------------ hook ops */

static const struct tw_adapter *req_adapter(json_t *req, const char *op, json_t **err)
{
	const char *vpn = req_str(req, "vpn");
	const struct tw_adapter *ad = tw_adapter_by_name(vpn);

	if (!ad)
		*err = tw_ctl_error("%s: unknown vpn '%s'", op, vpn);
	return ad;
}

/* The adapter's reading of a hook request, its deadline, and admission's re-check of both. */
static int hook_request(struct tw_daemon *d, const struct tw_adapter *ad, json_t *req, bool connect,
			struct tw_conn_req *r, char *err, size_t errlen)
{
	json_t *dl = json_object_get(req, "deadline_ms");

	memset(r, 0, sizeof(*r));
	if (ad->request(req, connect, r, err, errlen))
		return tw_adm_refuse(d, r, connect, err, err, errlen);
	if (dl && (!json_is_integer(dl) || json_integer_value(dl) <= 0)) {
		snprintf(err, errlen, "deadline_ms: expected a positive integer");
		return -EINVAL;
	}
	r->deadline_ms = dl ? json_integer_value(dl) : 0;
	return tw_adm_check(d, r, connect, err, errlen);
}

static json_t *op_connect(struct tw_daemon *d, json_t *req, const char *op)
{
	const struct tw_session *s;
	struct tw_decision dec;
	struct tw_conn_req r;
	json_t *resp = NULL;
	char err[512];
	const struct tw_adapter *ad = req_adapter(req, op, &resp);
	int rc;

	if (!ad)
		return resp;
	if (hook_request(d, ad, req, true, &r, err, sizeof(err)))
		return tw_ctl_error("%s", err);
	rc = tw_adm_connect(d, &r, &dec, &s);
	if (rc == -ENODEV)
		return tw_ctl_error("connect: unknown interface '%s'", r.ifname);
	if (rc == -EDESTADDRREQ)
		return tw_ctl_error("connect %s: no tunnel address (%s)", r.subject,
				    ad->tun_addr_names);
	if (rc)
		return tw_ctl_error("connect %s: journal unavailable, refusing", r.subject);
	if (!s)
		return json_pack("{s:b,s:s,s:s,s:I}", "ok", 1, "verdict",
				 tw_verdict_name(dec.verdict), "reason", dec.reason,
				 "policy_version", (json_int_t)dec.policy_version);
	resp = json_pack("{s:b,s:s,s:s,s:s,s:I}", "ok", 1, "verdict", tw_verdict_name(dec.verdict),
			 "reason", dec.reason, "session", s->id, "policy_version",
			 (json_int_t)dec.policy_version);
	if (resp && dec.verdict == TW_VERDICT_SANDBOX)
		json_object_set_new(resp, "session_timeout",
				    json_integer((json_int_t)dec.confirm_timeout_s));
	return resp;
}

static json_t *op_disconnect(struct tw_daemon *d, json_t *req, const char *op)
{
	struct tw_conn_req r;
	json_t *resp = NULL;
	char err[512];
	const struct tw_adapter *ad = req_adapter(req, op, &resp);

	if (!ad)
		return resp;
	if (hook_request(d, ad, req, false, &r, err, sizeof(err)))
		return tw_ctl_error("%s", err);
	switch (tw_adm_disconnect(d, &r)) {
	case TW_DISC_NO_SESSION:
		return json_pack("{s:b,s:s}", "ok", 1, "note", "no live session");
	case TW_DISC_NOT_PEER:
		return json_pack("{s:b,s:s}", "ok", 1, "note", "not the live session");
	case TW_DISC_ENDED:
		break;
	}
	return json_pack("{s:b}", "ok", 1);
}

/* ------------------------------------------------------------ views */

static json_t *op_status(struct tw_daemon *d, json_t *req, const char *op)
{
	return tw_status_json(d);
}

static json_t *session_json(struct tw_daemon *d, struct tw_session *s)
{
	static const char *const states[] = { "free", "permit", "sandbox", "banned" };
	json_t *addrs = json_array();
	uint64_t drops = 0;
	char a[INET6_ADDRSTRLEN];

	tw_sess_counters(d, s);
	for (int i = 0; i < s->client.naddrs; i++) {
		inet_ntop(s->client.addrs[i].family == TW_FAM_V4 ? AF_INET : AF_INET6,
			  s->client.addrs[i].addr, a, sizeof(a));
		json_array_append_new(addrs, json_string(a));
	}
	for (int i = 0; i < TW_DROP__MAX; i++)
		drops += s->last.drops[i];
	a[0] = '\0';
	if (s->real_family)
		inet_ntop(s->real_family == TW_FAM_V4 ? AF_INET : AF_INET6, s->real_addr, a,
			  sizeof(a));
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:i}", "cn",
			 s->subject, "session", s->id, "state", states[s->state & 3], "tenant",
			 s->tenant, "profile", s->profile, "ifname", s->ifname, "addrs", addrs,
			 "real", a, "real_port", s->real_port, "since", (json_int_t)s->started,
			 "from_bytes", (json_int_t)s->last.from_bytes, "to_bytes",
			 (json_int_t)s->last.to_bytes, "from_pkts", (json_int_t)s->last.from_pkts,
			 "to_pkts", (json_int_t)s->last.to_pkts, "drops", (json_int_t)drops, "slot",
			 s->slot);
}

/* "clients", and "client" (one CN) in the same shape */
/* Sessions on a detached tunnel are neither enforced nor counted: say so beside them. */
static json_t *with_detached(struct tw_daemon *d, json_t *resp)
{
	json_t *names = tw_links_detached(d);

	if (names && resp)
		json_object_set_new(resp, "detached_tunnels", names);
	else
		json_decref(names);
	return resp;
}

static json_t *op_clients(struct tw_daemon *d, json_t *req, const char *op)
{
	const char *cn = req_str(req, "cn");
	json_t *arr = json_array();

	for (uint32_t slot = 0; slot < tw_sessions_nslots(d->ss); slot++) {
		struct tw_session *s = tw_sessions_by_slot(d->ss, slot);

		if (s && (!cn || !strcmp(cn, s->subject)))
			json_array_append_new(arr, session_json(d, s));
	}
	if (cn && !json_array_size(arr)) {
		json_decref(arr);
		return tw_ctl_error("no live session for '%s'", cn);
	}
	return with_detached(d, json_pack("{s:b,s:o}", "ok", 1, "clients", arr));
}

static json_t *ctr_json(const struct tw_gctr *c)
{
	return json_pack("{s:I,s:I}", "pkts", (json_int_t)c->pkts, "bytes", (json_int_t)c->bytes);
}

static json_t *op_counters(struct tw_daemon *d, json_t *req, const char *op)
{
	struct tw_gctr g[TW_G__MAX];
	json_t *o;

	if (tw_dp_gcounters_read(d->dp, g))
		return tw_ctl_error("read counters: %s", strerror(errno));
	o = json_object();
	for (int i = 1; i < TW_DROP__MAX; i++)
		json_object_set_new(o, tw_drop_reason_name((uint32_t)i), ctr_json(&g[i]));
	json_object_set_new(o, "pass_in", ctr_json(&g[TW_G_PASS_IN]));
	json_object_set_new(o, "pass_out", ctr_json(&g[TW_G_PASS_OUT]));
	return with_detached(d, json_pack("{s:b,s:o}", "ok", 1, "counters", o));
}

static int log_cb(const struct tw_record *rec, const char *json, size_t len, void *ctx)
{
	json_array_append_new(ctx, json_loadb(json, len, 0, NULL));
	return 0;
}

static json_t *op_log(struct tw_daemon *d, json_t *req, const char *op)
{
	json_int_t since = json_integer_value(json_object_get(req, "since"));
	json_t *arr = json_array();

	tw_journal_flush(d->jr);
	if (tw_journal_read_since(d->jr, (uint64_t)since, 10000, log_cb, arr) < 0) {
		json_decref(arr);
		return tw_ctl_error("journal: %s", tw_journal_errstr(d->jr));
	}
	return json_pack("{s:b,s:o}", "ok", 1, "records", arr);
}

static json_t *op_policy(struct tw_daemon *d, json_t *req, const char *op)
{
	return json_pack("{s:b,s:I,s:i,s:i,s:I,s:s}", "ok", 1, "version",
			 (json_int_t)(d->pol ? tw_policy_version(d->pol) : 0), "subjects",
			 (int)(d->pol ? tw_policy_nsubjects(d->pol) : 0), "profiles",
			 (int)(d->pol ? tw_policy_nprofiles(d->pol) : 0), "age",
			 (json_int_t)(time(NULL) - d->pol_loaded), "source", tw_polsrc_name(d));
}

/* ------------------------------------------------------------ actions */

static json_t *ok(void)
{
	return json_pack("{s:b}", "ok", 1);
}

/* A ban's "duration" into *@secs: absent or 0 is the configured
 * ban_duration (0 there: until unbanned), else whole seconds up to
 * TW_DURATION_MAX_S. NULL, or the error reply. */
static json_t *ban_secs(const struct tw_daemon *d, json_t *req, uint64_t *secs)
{
	json_t *j = json_object_get(req, "duration");
	json_int_t v = json_integer_value(j);

	*secs = d->cfg.ban_duration_s;
	if (!j || json_is_null(j))
		return NULL;
	if (!json_is_integer(j))
		return tw_ctl_error("ban: duration must be a whole number of seconds");
	if (v < 0 || (uint64_t)v > TW_DURATION_MAX_S)
		return tw_ctl_error("ban: duration %lld s is out of range: 1 to %llu s (10 years), "
				    "or 0 for the configured ban_duration",
				    (long long)v, TW_DURATION_MAX_S);
	if (v)
		*secs = (uint64_t)v;
	return NULL;
}

/* ban / unban of a real source address or prefix: the uplink map only */
static json_t *addr_ban(struct tw_daemon *d, json_t *req, const char *op, const char *addr)
{
	struct tw_addr a;
	uint64_t secs;
	json_t *bad;
	uint8_t plen;
	int err;

	if (tw_prefix_parse(addr, &a, &plen))
		return tw_ctl_error("%s: '%s' is not an address or prefix (host bits must be zero)",
				    op, addr);
	if (!strcmp(op, "ban")) {
		bad = ban_secs(d, req, &secs);
		if (bad)
			return bad;
		/* bounded above: neither sum can overflow */
		err = tw_dp_ban_add(d->dp, &a, plen, secs * 1000000000ull);
		if (err)
			return tw_ctl_error("ban %s: %s", addr, tw_dp_errstr(d->dp));
		tw_info("source %s banned for %llu s by the operator", addr,
			(unsigned long long)secs);
		return json_pack("{s:b,s:I}", "ok", 1, "until",
				 secs ? (json_int_t)time(NULL) + (json_int_t)secs : 0);
	}
	err = tw_dp_ban_remove(d->dp, &a, plen);
	if (err)
		return tw_ctl_error("unban %s: %s", addr,
				    err == -ENOENT ? "not banned" : strerror(-err));
	tw_info("source %s unbanned by the operator", addr);
	return json_pack("{s:b,s:b}", "ok", 1, "removed", 1);
}

static json_t *op_ban(struct tw_daemon *d, json_t *req, const char *op)
{
	const char *cn = req_str(req, "cn"), *addr = req_str(req, "addr");
	uint64_t secs;
	time_t until;
	json_t *bad;

	if (addr)
		return addr_ban(d, req, op, addr);
	bad = ban_secs(d, req, &secs);
	if (bad)
		return bad;
	if (!cn || tw_adm_ban(d, cn, secs, &until))
		return tw_ctl_error("ban: needs cn");
	/* as for an address: 0 is "until unbanned" */
	return json_pack("{s:b,s:I}", "ok", 1, "until", (json_int_t)until);
}

static json_t *op_unban(struct tw_daemon *d, json_t *req, const char *op)
{
	const char *cn = req_str(req, "cn"), *addr = req_str(req, "addr");

	if (addr)
		return addr_ban(d, req, op, addr);
	if (!cn || tw_adm_unban(d, cn))
		return tw_ctl_error("'%s' is not banned", cn ? cn : "");
	return ok();
}

static json_t *op_kill(struct tw_daemon *d, json_t *req, const char *op)
{
	const char *cn = req_str(req, "cn");

	if (!cn || tw_adm_kill(d, cn))
		return tw_ctl_error("no live session for '%s'", cn ? cn : "");
	return ok();
}

static json_t *op_confirm(struct tw_daemon *d, json_t *req, const char *op)
{
	const char *cn = req_str(req, "cn");

	switch (cn ? tw_adm_confirm(d, cn) : -ENOENT) {
	case 0:
		return ok();
	case -ENOENT:
		return tw_ctl_error("no live session for '%s'", cn ? cn : "");
	case -EALREADY:
		return tw_ctl_error("'%s' is not waiting for confirmation", cn);
	default:
		return tw_ctl_error("confirm: %s", tw_dp_errstr(d->dp));
	}
}

/* The configuration, then the policy file: what `systemctl reload` (SIGHUP) does too. */
static json_t *op_reload(struct tw_daemon *d, json_t *req, const char *op)
{
	bool changed = false;
	char err[512] = "";

	if (tw_conf_reload(d, &changed, err, sizeof(err)))
		return tw_ctl_error("%s", err);
	if (tw_polsrc_reload(d, err, sizeof(err)))
		return tw_ctl_error("reload failed: %s", err);
	return json_pack("{s:b,s:I,s:b}", "ok", 1, "policy_version",
			 (json_int_t)tw_policy_version(d->pol), "config_changed", changed);
}

/* "ifname", or "all": true; anything else is refused rather than read as "all". */
static int req_iface(json_t *req, const char *op, const char **ifname, json_t **err)
{
	bool all = json_is_true(json_object_get(req, "all"));

	*ifname = req_str(req, "ifname");
	if (all == !!*ifname) {
		*err = tw_ctl_error("%s: needs \"ifname\" or \"all\":true (not both)", op);
		return -EINVAL;
	}
	return 0;
}

static json_t *op_detach(struct tw_daemon *d, json_t *req, const char *op)
{
	const char *ifname;
	json_t *names, *resp = NULL;
	char err[512];

	if (req_iface(req, op, &ifname, &resp))
		return resp;
	names = tw_links_detach(d, ifname, err, sizeof(err));
	if (!names)
		return tw_ctl_error("%s", err);
	return json_pack("{s:b,s:o}", "ok", 1, "detached", names);
}

static json_t *op_attach(struct tw_daemon *d, json_t *req, const char *op)
{
	const char *ifname;
	json_t *names, *resp = NULL;
	char err[512];

	if (req_iface(req, op, &ifname, &resp))
		return resp;
	names = tw_links_attach(d, ifname, err, sizeof(err));
	if (!names)
		return tw_ctl_error("%s", err);
	return json_pack("{s:b,s:o}", "ok", 1, "attached", names);
}

/* ------------------------------------------------------------ dispatch */

/* The handler of each row of tw_ctl_ops (lib/ctl.c: name, who may call, help). */
/* clang-format off */
static const op_fn handlers[TW_OP__MAX] = {
	[TW_OP_CONNECT]    = op_connect,
	[TW_OP_DISCONNECT] = op_disconnect,
	[TW_OP_STATUS]     = op_status,
	[TW_OP_CLIENTS]    = op_clients,
	[TW_OP_CLIENT]     = op_clients,
	[TW_OP_COUNTERS]   = op_counters,
	[TW_OP_LOG]        = op_log,
	[TW_OP_KILL]       = op_kill,
	[TW_OP_BAN]        = op_ban,
	[TW_OP_UNBAN]      = op_unban,
	[TW_OP_CONFIRM]    = op_confirm,
	[TW_OP_POLICY]     = op_policy,
	[TW_OP_RELOAD]     = op_reload,
	[TW_OP_DETACH]     = op_detach,
	[TW_OP_ATTACH]     = op_attach,
};
/* clang-format on */

/* Any local user can reach the socket: only root and the hook's configured
 * user or group may admit or end sessions, only root may do the rest. */
bool tw_ops_hook_identity(const struct tw_daemon *d, const struct tw_ctl_peer *p)
{
	return (d->hook_uid != (uid_t)-1 && p->uid == d->hook_uid) ||
	       (d->hook_gid != (gid_t)-1 && p->gid == d->hook_gid);
}

static bool may_call(const struct tw_daemon *d, const struct tw_ctl_peer *p, enum tw_ctl_who who)
{
	if (p->uid == 0)
		return true;
	return who == TW_CTL_HOOK && tw_ops_hook_identity(d, p);
}

json_t *tw_ops_dispatch(struct tw_daemon *d, const struct tw_ctl_peer *peer, json_t *req)
{
	const char *op = req_str(req, "op");
	enum tw_ctl_op_id id;

	if (!op)
		return tw_ctl_error("request has no \"op\"");
	/* an unknown op is refused like an admin op, so that it says nothing to non-root */
	if (tw_ctl_op_find(op, &id) || !handlers[id]) {
		if (peer->uid != 0)
			return tw_ctl_error("%s: permission denied (uid %u)", op,
					    (unsigned)peer->uid);
		return tw_ctl_error("unknown op '%s'", op);
	}
	if (!may_call(d, peer, tw_ctl_ops[id].who)) {
		if (tw_ctl_ops[id].who == TW_CTL_HOOK)
			return tw_ctl_error("%s: permission denied (uid %u is not root or the "
					    "configured hook_user/hook_group)",
					    op, (unsigned)peer->uid);
		return tw_ctl_error("%s: permission denied (uid %u)", op, (unsigned)peer->uid);
	}
	return handlers[id](d, req, op);
}
