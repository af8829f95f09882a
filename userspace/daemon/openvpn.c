// SPDX-License-Identifier: GPL-2.0-only
/*
 * The OpenVPN adapter. Connects and disconnects arrive from tunwarden-hook
 * (client-connect / client-disconnect) as the script environment OpenVPN
 * gave it (docs/ctl-protocol.md, "env"); sessions are ended through the
 * management interface ([openvpn] management sockets). OpenVPN programs its
 * own peers: the hook's answer (verdict, session-timeout) is all it needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "adapter.h"
#include "daemon.h"
#include "log.h"

static const char *env_str(const json_t *env, const char *k)
{
	const char *v = json_string_value(json_object_get(env, k));

	return v ? v : "";
}

/* trusted_ip, else trusted_ip6, with trusted_port: the client's real address */
static void env_real(const json_t *env, struct tw_conn_req *r)
{
	struct tw_addr ra;

	if (tw_addr_parse(env_str(env, "trusted_ip"), &ra) &&
	    tw_addr_parse(env_str(env, "trusted_ip6"), &ra))
		return;
	r->real_family = ra.family;
	memcpy(r->real_addr, ra.addr, 16);
	r->real_port = (uint16_t)atoi(env_str(env, "trusted_port"));
}

static int ovpn_request(const json_t *req, bool connect, struct tw_conn_req *r, char *err,
			size_t errlen)
{
	const json_t *env = json_object_get(req, "env");

	memset(r, 0, sizeof(*r));
	r->kind = TW_SUBJ_CN;
	r->subject = env_str(env, "common_name");
	r->ifname = env_str(env, "dev");
	env_real(env, r);
	if (!connect)
		return 0;
	if (!json_is_object(env) || !r->subject[0] || !r->ifname[0]) {
		snprintf(err, errlen, "connect: env needs common_name and dev");
		return -EINVAL;
	}
	if (!tw_addr_parse(env_str(env, "pool_ip"), &r->tun[r->ntun]))
		r->ntun++;
	if (!tw_addr_parse(env_str(env, "pool_ip6"), &r->tun[r->ntun]))
		r->ntun++;
	return 0;
}

/* One management connection: its lines, up to a terminating line, into @buf. */
static int mgmt_cmd(int fd, const char *cmd, char *buf, size_t len)
{
	size_t have = 0;
	ssize_t n;

	if (write(fd, cmd, strlen(cmd)) < 0)
		return -errno;
	while (have < len - 1 && (n = read(fd, buf + have, len - 1 - have)) > 0) {
		have += (size_t)n;
		buf[have] = '\0';
		if (strstr(buf, "\nEND") || strstr(buf, "SUCCESS:") || strstr(buf, "ERROR:"))
			return 0;
	}
	buf[have] = '\0';
	return n < 0 ? -errno : -EIO;
}

/* The "Client ID" of @cn in a `status 3` listing; -1 when it has none. */
static long mgmt_client_id(char *status, const char *cn)
{
	char *line, *save = NULL;
	long cid = -1;
	int col = -1;

	for (line = strtok_r(status, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		char *f[16], *fs = NULL, *tok;
		int nf = 0;

		for (tok = strtok_r(line, "\t", &fs); tok && nf < 16;
		     tok = strtok_r(NULL, "\t", &fs))
			f[nf++] = tok;
		if (nf > 2 && !strcmp(f[0], "HEADER") && !strcmp(f[1], "CLIENT_LIST")) {
			for (int k = 2; k < nf; k++)
				if (!strcmp(f[k], "Client ID"))
					col = k - 1;
		} else if (nf > 1 && !strcmp(f[0], "CLIENT_LIST") && !strcmp(f[1], cn) && col > 0 &&
			   col < nf) {
			cid = strtol(f[col], NULL, 10);
		}
	}
	return cid;
}

/* End @cn's session at the management socket @path. */
static void mgmt_kill(const char *path, const char *cn, bool halt)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 1 };
	char cmd[300], *buf = malloc(1 << 20);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	long cid;

	if (fd < 0 || !buf)
		goto out;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    mgmt_cmd(fd, "status 3\n", buf, 1 << 20)) {
		tw_warn("openvpn management %s: %s", sa.sun_path, strerror(errno));
		goto out;
	}
	cid = mgmt_client_id(buf, cn);
	if (cid >= 0)
		snprintf(cmd, sizeof(cmd), "client-kill %ld %s\n", cid, halt ? "HALT" : "RESTART");
	else
		snprintf(cmd, sizeof(cmd), "kill %s\n", cn);
	if (mgmt_cmd(fd, cmd, buf, 4096) == 0 && strstr(buf, "SUCCESS:"))
		tw_info("openvpn %s: ended %s's session (%s)", sa.sun_path, cn,
			cid >= 0 ? (halt ? "client-kill HALT" : "client-kill RESTART") : "kill");
	else
		tw_dbg("openvpn %s: %s: %s", sa.sun_path, cmd, buf);
	if (write(fd, "quit\n", 5) < 0)
		tw_dbg("openvpn %s: quit: %s", sa.sun_path, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	free(buf);
}

/*
 * `client-kill CID RESTART|HALT` tells the client at once (cc-exit), so it
 * reconnects (RESTART: an unconfirmed attempt may be retried and counted) or
 * stops (HALT: revoked); the CID comes from `status 3`. `kill CN` is the
 * fallback for servers that do not list it. Every configured server is told:
 * the daemon does not track which one carries the session.
 */
static void ovpn_kill(struct tw_daemon *d, const struct tw_session *s, bool halt)
{
	for (uint32_t i = 0; i < d->cfg.novpn_mgmt; i++)
		mgmt_kill(d->cfg.ovpn_mgmt[i], s->subject, halt);
}

const struct tw_adapter tw_openvpn_adapter = {
	.name = "openvpn",
	.kind = TW_SUBJ_CN,
	.tun_addr_names = "pool_ip/pool_ip6",
	.request = ovpn_request,
	.kill = ovpn_kill,
};
