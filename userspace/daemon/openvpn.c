// SPDX-License-Identifier: GPL-2.0-only
/*
 * The OpenVPN adapter. Connects and disconnects arrive from tunwarden-hook
 * (client-connect / client-disconnect) as the script environment OpenVPN
 * gave it (docs/ctl-protocol.md, "env"); sessions are ended through the
 * management interface ([openvpn] management sockets, mgmt.c), which also
 * tells a restarted daemon which re-adopted sessions ended while it was down.
 * OpenVPN programs its own peers: the hook's answer (verdict, session-timeout)
 * is all it needs. docs/openvpn.md, "Management" and "Crash recovery".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter.h"
#include "daemon.h"
#include "log.h"
#include "mgmt.h"
#include "sessions.h"

static const char *env_str(const json_t *env, const char *k)
{
	const char *v = json_string_value(json_object_get(env, k));

	return v ? v : "";
}

/* An address member of "env": absent is fine, present must be an address of @family. */
static int env_addr(const json_t *env, const char *k, uint8_t family, struct tw_addr *a, bool *has,
		    char *err, size_t errlen)
{
	const json_t *j = json_object_get(env, k);

	*has = false;
	if (!j)
		return 0;
	if (!json_is_string(j) || tw_addr_parse(json_string_value(j), a) || a->family != family) {
		snprintf(err, errlen, "env.%s: not an IPv%d address", k,
			 family == TW_FAM_V4 ? 4 : 6);
		return -EINVAL;
	}
	*has = true;
	return 0;
}

/*
 * trusted_ip, else trusted_ip6, with trusted_port: the client's real address;
 * pool_ip and pool_ip6: its tunnel addresses. Whatever is present must parse
 * exactly (a forged request gets no lenient reading); what is required is
 * admission's re-check (tw_adm_check).
 */
static int env_addrs(const json_t *env, struct tw_conn_req *r, char *err, size_t errlen)
{
	static const struct {
		const char *key;
		uint8_t family;
		bool real;
	} fields[] = {
		{ "trusted_ip", TW_FAM_V4, true },
		{ "trusted_ip6", TW_FAM_V6, true },
		{ "pool_ip", TW_FAM_V4, false },
		{ "pool_ip6", TW_FAM_V6, false },
	};
	const char *port = env_str(env, "trusted_port"), *p;
	struct tw_addr a;
	unsigned long v = 0;
	bool has;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (env_addr(env, fields[i].key, fields[i].family, &a, &has, err, errlen))
			return -EINVAL;
		if (has && fields[i].real && !r->real_family) {
			r->real_family = a.family;
			memcpy(r->real_addr, a.addr, 16);
		} else if (has && !fields[i].real) {
			r->tun[r->ntun++] = a;
		}
	}
	for (p = port; *p && v <= UINT16_MAX; p++)
		v = *p >= '0' && *p <= '9' ? v * 10 + (unsigned long)(*p - '0') : UINT16_MAX + 1ul;
	if (*port && (v == 0 || v > UINT16_MAX)) {
		snprintf(err, errlen, "env.trusted_port: not a port number (1..65535)");
		return -EINVAL;
	}
	r->real_port = (uint16_t)v;
	return 0;
}

static int ovpn_request(const json_t *req, bool connect, struct tw_conn_req *r, char *err,
			size_t errlen)
{
	const json_t *env = json_object_get(req, "env");

	memset(r, 0, sizeof(*r));
	r->kind = TW_SUBJ_CN;
	r->subject = env_str(env, "common_name");
	r->ifname = env_str(env, "dev");
	if (!json_is_object(env) || !r->subject[0] || !r->ifname[0]) {
		snprintf(err, errlen, "%s: env needs common_name and dev",
			 connect ? "connect" : "disconnect");
		return -EINVAL;
	}
	return env_addrs(env, r, err, errlen);
}

/*
 * End @s at every configured server that lists it (mgmt.c: queued, never
 * waited for). The client is matched by CN and real address:port, so a
 * session of the same CN on another server, or the one that replaced it, is
 * never hit. `client-kill CID HALT` stops the client (revoked, preempted);
 * RESTART lets an unconfirmed one come back (and count towards a ban).
 */
static void ovpn_kill(struct tw_daemon *d, const struct tw_session *s, bool halt)
{
	struct tw_addr real = { .family = s->real_family };

	/* a reload may have changed the [openvpn] management sockets */
	d->mgmt = tw_mgmt_update(d->mgmt, d->loop, d->cfg.ovpn_mgmt, d->cfg.novpn_mgmt);
	memcpy(real.addr, s->real_addr, 16);
	tw_mgmt_kill(d->mgmt, s->subject, &real, s->real_port, halt);
}

/* ---- crash recovery: re-adopted sessions against the servers' client lists ---- */

struct recon {
	struct tw_daemon *d;
	unsigned int waiting; /* servers that have not answered yet */
	bool answered[TW_CFG_MAX_MGMT];
	uint32_t n;
	struct recon_ent {
		uint32_t slot;
		char id[TW_REC_SESSION_MAX];
		bool seen;
	} e[];
};

static struct recon *recon_live; /* one reconciliation, at start */

static bool addr_eq(const struct tw_addr *a, const struct tw_addr *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, 16);
}

/* @c is @s: same CN, real address:port and tunnel addresses (where both say). */
static bool listed_as(const struct tw_session *s, const struct tw_mgmt_client *c)
{
	if (strcmp(s->subject, c->cn))
		return false;
	if (s->real_family && c->real.family &&
	    (s->real_family != c->real.family || memcmp(s->real_addr, c->real.addr, 16) ||
	     s->real_port != c->real_port))
		return false;
	for (int i = 0; i < s->client.naddrs; i++) {
		const struct tw_addr *v = s->client.addrs[i].family == TW_FAM_V4 ? &c->virt4 :
										   &c->virt6;

		if (v->family && !addr_eq(v, &s->client.addrs[i]))
			return false;
	}
	return true;
}

static struct tw_session *recon_session(struct recon *rc, struct recon_ent *e)
{
	struct tw_session *s = tw_sessions_by_slot(rc->d->ss, e->slot);

	/* ended or replaced since the start: no longer ours to judge */
	return s && !strcmp(s->id, e->id) ? s : NULL;
}

static void recon_client(void *ctx, unsigned int server, const struct tw_mgmt_client *c)
{
	struct recon *rc = ctx;

	(void)server;
	for (uint32_t i = 0; i < rc->n; i++) {
		struct tw_session *s = recon_session(rc, &rc->e[i]);

		if (s && !rc->e[i].seen && listed_as(s, c))
			rc->e[i].seen = true;
	}
}

/* Every server answered: a re-adopted session none of them lists is gone. */
static void recon_done(void *ctx, unsigned int server)
{
	struct recon *rc = ctx;
	uint32_t gone = 0;

	if (server < TW_CFG_MAX_MGMT && !rc->answered[server]) {
		rc->answered[server] = true;
		rc->waiting--;
	}
	if (rc->waiting)
		return;
	for (uint32_t i = 0; i < rc->n; i++) {
		struct tw_session *s = recon_session(rc, &rc->e[i]);

		if (!s || rc->e[i].seen)
			continue;
		tw_warn("subject %s (slot %u): no OpenVPN server lists its session any more "
			"(it ended while the daemon was down), ending it",
			s->subject, s->slot);
		tw_sess_end(rc->d, s, TW_TERM_VPN_GONE, false);
		gone++;
	}
	tw_info("openvpn: %u re-adopted session(s) checked against %u server(s), %u gone", rc->n,
		tw_mgmt_nservers(rc->d->mgmt), gone);
	recon_live = NULL;
	free(rc);
}

static void ovpn_reconcile(struct tw_daemon *d)
{
	struct tw_mgmt_list_ops ops = { .client = recon_client, .done = recon_done };
	uint32_t nslots = tw_sessions_nslots(d->ss), n = 0;
	struct recon *rc;

	if (!tw_sessions_count(d->ss))
		return;
	if (!tw_mgmt_nservers(d->mgmt)) {
		tw_warn("openvpn: no [openvpn] management socket: re-adopted sessions that "
			"ended while the daemon was down stay until their address is reused");
		return;
	}
	rc = calloc(1, sizeof(*rc) + tw_sessions_count(d->ss) * sizeof(rc->e[0]));
	if (!rc)
		return;
	rc->d = d;
	for (uint32_t slot = 0; slot < nslots; slot++) {
		struct tw_session *s = tw_sessions_by_slot(d->ss, slot);

		if (!s || s->kind != TW_SUBJ_CN || n == tw_sessions_count(d->ss))
			continue;
		rc->e[n].slot = slot;
		snprintf(rc->e[n].id, sizeof(rc->e[n].id), "%s", s->id);
		n++;
	}
	rc->n = n;
	rc->waiting = tw_mgmt_nservers(d->mgmt);
	ops.ctx = rc;
	recon_live = rc;
	tw_mgmt_list(d->mgmt, &ops);
}

static int ovpn_open(struct tw_daemon *d)
{
	d->mgmt = tw_mgmt_new(d->loop, d->cfg.ovpn_mgmt, d->cfg.novpn_mgmt);
	if (!d->mgmt)
		return -errno;
	ovpn_reconcile(d);
	return 0;
}

static void ovpn_close(struct tw_daemon *d)
{
	tw_mgmt_free(d->mgmt);
	d->mgmt = NULL;
	free(recon_live);
	recon_live = NULL;
}

static json_t *ovpn_status(struct tw_daemon *d)
{
	d->mgmt = tw_mgmt_update(d->mgmt, d->loop, d->cfg.ovpn_mgmt, d->cfg.novpn_mgmt);
	return json_pack("{s:o}", "management", tw_mgmt_status_json(d->mgmt));
}

static void ovpn_metrics(struct tw_daemon *d, FILE *f)
{
	tw_mgmt_metrics(d->mgmt, f);
}

const struct tw_adapter tw_openvpn_adapter = {
	.name = "openvpn",
	.kind = TW_SUBJ_CN,
	.tun_addr_names = "pool_ip/pool_ip6",
	.request = ovpn_request,
	.kill = ovpn_kill,
	.reclaims_addresses = true,
	.open = ovpn_open,
	.close = ovpn_close,
	.status = ovpn_status,
	.metrics = ovpn_metrics,
};
