// SPDX-License-Identifier: GPL-2.0-only
/*
 * tunwardend: the controller daemon. It keeps the BPF maps in line with the
 * cached subject policy, answers the VPN hooks on its control socket,
 * journals connect/disconnect/interim records, ends sessions the policy no
 * longer allows, and attaches to tunnel interfaces as they appear.
 *
 * One thread, one event loop (loop.c). daemon.h lists the modules; this file
 * only puts them together, in the order they depend on each other.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "adapter.h"
#include "admission.h"
#include "conf.h"
#include "ctlsrv.h"
#include "daemon.h"
#include "journal.h"
#include "portal.h"
#include "links.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "policy.h"
#include "netallow.h"
#include "policysrc.h"
#include "safefile.h"
#include "sessdb.h"
#include "session.h"
#include "sessions.h"
#include "status.h"
#include "tw_dp.h"

/* What main does besides serving: check the configuration, or print the portal's addresses. */
enum run_mode { RUN_SERVE, RUN_CHECK, RUN_ADDRESSES };

static int parse_args(struct tw_daemon *d, int argc, char **argv, enum run_mode *mode)
{
	static const struct option lo[] = { { "config", required_argument, NULL, 'c' },
					    { "check-config", no_argument, NULL, 'C' },
					    { "portal-addresses", no_argument, NULL, 'A' },
					    { "help", no_argument, NULL, 'h' },
					    {} };
	int opt;

	while ((opt = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'c':
			d->cfg_path = optarg;
			break;
		case 'C':
			*mode = RUN_CHECK;
			break;
		case 'A':
			*mode = RUN_ADDRESSES;
			break;
		default:
			fprintf(stderr, "usage: tunwardend [-c CONFIG] [--check-config | "
					"--portal-addresses]\n");
			return opt == 'h' ? 1 : -EINVAL;
		}
	}
	return 0;
}

static void node_identity(struct tw_daemon *d)
{
	if (d->cfg.node_id[0])
		snprintf(d->node, sizeof(d->node), "%s", d->cfg.node_id);
	else if (gethostname(d->node, sizeof(d->node) - 1))
		snprintf(d->node, sizeof(d->node), "node");
	d->started = time(NULL);
}

/*
 * The directories the daemon writes in: created 0700 (the socket's 0755, the
 * hook runs as another user), or accepted only when ours and writable by no
 * one else, since whoever writes there can swap the journal or the socket.
 */
static int dirs_prepare(const struct tw_daemon *d)
{
	struct {
		const char *path;
		mode_t mode;
	} dirs[] = {
		{ d->cfg.state_dir, 0700 },
		{ d->cfg.journal_path, 0700 },
		{ d->cfg.socket_path, 0755 },
	};
	char dir[TW_CFG_PATH_MAX], err[512], *slash;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		int fd;

		snprintf(dir, sizeof(dir), "%s", dirs[i].path);
		slash = strrchr(dir, '/');
		if (i > 0 && slash && slash != dir)
			*slash = '\0'; /* the file's directory */
		else if (i > 0)
			continue;
		fd = tw_dir_secure(AT_FDCWD, dir, NULL, dirs[i].mode, TW_DIR_NOWRITE, err,
				   sizeof(err));
		if (fd < 0) {
			tw_err("refusing directory %s", err);
			return fd;
		}
		close(fd);
	}
	return 0;
}

/* The dataplane (pinned maps and links survive us), the uplink program. */
static int dataplane_open(struct tw_daemon *d)
{
	struct tw_dp_opts dpo = { .pin_root = d->cfg.pin_root,
				  .l3_off = d->cfg.nifaces ? d->cfg.ifaces[0].l3_off : 0 };
	int ifi;

	d->dp = tw_dp_open(&dpo);
	if (!d->dp) {
		tw_err("cannot load the dataplane: %s", strerror(errno));
		return -errno;
	}
	if (!d->cfg.uplink[0])
		return 0;
	ifi = (int)if_nametoindex(d->cfg.uplink);
	for (uint32_t i = 0; i < d->cfg.nvports; i++)
		tw_dp_vport_add(d->dp, d->cfg.vports[i].proto, d->cfg.vports[i].port,
				d->cfg.vports[i].kind);
	tw_dp_uplink_config(d->dp, &d->cfg.ucfg);
	if (!ifi || tw_dp_attach_uplink(d->dp, ifi))
		tw_err("uplink %s: cannot attach (%s)", d->cfg.uplink,
		       ifi ? tw_dp_errstr(d->dp) : "no such interface");
	return 0;
}

/* The journal, the session table and its restored sessions. */
static int state_open(struct tw_daemon *d)
{
	struct tw_journal_opts jo = { .node_id = d->node, .cap_bytes = d->cfg.journal_max_bytes };
	char sp[TW_CFG_PATH_MAX + 16];
	int err;

	d->adm = tw_adm_new();
	d->ss = tw_sessions_new(TW_MAX_CLIENTS);
	d->jr = tw_journal_open(d->cfg.journal_path, &jo);
	if (!d->adm || !d->ss || !d->jr) {
		err = errno;
		tw_err("journal %s: %s", d->cfg.journal_path,
		       d->jr ? strerror(err) : tw_journal_errstr(NULL));
		return -err;
	}
	snprintf(sp, sizeof(sp), "%s/sessions.db", d->cfg.state_dir);
	d->sdb = tw_sessdb_open(sp);
	if (!d->sdb) {
		tw_err("session table %s: %s", sp, strerror(errno));
		return -errno;
	}
	tw_sess_restore(d);
	return 0;
}

/* SIGHUP: as the "reload" op. */
static void on_hup(void *ctx)
{
	struct tw_daemon *d = ctx;
	bool changed;
	char err[512];

	if (!tw_conf_reload(d, &changed, err, sizeof(err)))
		tw_polsrc_reload(d, NULL, 0);
}

static void on_tick(void *ctx)
{
	struct tw_daemon *d = ctx;

	tw_adm_tick(d);
	tw_journal_flush(d->jr);
	tw_portal_records_ready(d);
	if (tw_dp_ban_sweep(d->dp) > 0)
		tw_dbg("expired uplink bans removed");
	tw_status_write(d);
	sd_notify(0, "WATCHDOG=1");
}

/* What the loop serves: signals, the tick, the control socket, metrics, links. */
static int serve_open(struct tw_daemon *d)
{
	int err = 0;

	d->loop = tw_loop_new();
	if (!d->loop || (err = tw_loop_signals(d->loop, on_hup, d)) ||
	    (err = tw_loop_timer(d->loop, "tick", 1, on_tick, d)) || (err = tw_ctlsrv_open(d))) {
		tw_err("setup: %s", strerror(d->loop ? -err : errno));
		return -1;
	}
	err = tw_metrics_open(d);
	if (err)
		tw_err("metrics on %s: %s (metrics off)", d->cfg.metrics_listen, strerror(-err));
	if (tw_links_watch(d))
		tw_warn("no netlink link events: interfaces that appear later are not attached");
	tw_adapters_open(d); /* logged; the daemon serves without them */
	return 0;
}

/* Sessions are not ended on stop: the dataplane keeps enforcing and a
 * restarted daemon finds the clients in the pinned maps. */
static void daemon_close(struct tw_daemon *d)
{
	tw_portal_close(d);
	tw_ctlsrv_close(d);
	tw_metrics_close(d);
	tw_adapters_close(d);
	tw_links_close(d);
	if (d->jr)
		tw_journal_close(d->jr);
	tw_policy_free(d->pol);
	tw_sessions_free(d->ss);
	tw_sessdb_close(d->sdb);
	tw_dp_close(d->dp);
	tw_adm_free(d->adm);
	tw_loop_free(d->loop);
	tw_conf_free(d);
}

int main(int argc, char **argv)
{
	struct tw_daemon d = { .cfg_path = TW_CONF_PATH };
	enum run_mode mode = RUN_SERVE;
	int rc = EXIT_FAILURE, err;

	/* Whatever the caller's umask, nothing we create is readable by others
	 * unless made so on purpose (the control socket, ctlsrv.c). */
	umask(077);

	err = parse_args(&d, argc, argv, &mode);
	if (err)
		return err > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	if (tw_conf_load(&d))
		return EXIT_FAILURE;
	if (mode == RUN_CHECK) {
		printf("%s: ok\n", d.cfg_path);
		rc = EXIT_SUCCESS;
		goto out;
	}
	if (mode == RUN_ADDRESSES) {
		rc = tw_netallow_print(&d.cfg, stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
		goto out;
	}
	tw_log_init("tunwardend", d.cfg.log_level);
	if (tw_conf_resolve_hook_ids(&d))
		goto out;
	node_identity(&d);
	if (dirs_prepare(&d))
		goto out;

	if (dataplane_open(&d) || state_open(&d))
		goto out;
	tw_polsrc_cold_start(&d);
	if (serve_open(&d))
		goto out;
	tw_links_attach_existing(&d);
	/* logged; admission never waits for the portal, so the daemon serves without it */
	tw_portal_open(&d);

	sd_notify(0, "READY=1");
	tw_info("ready: node %s, socket %s", d.node, d.cfg.socket_path);
	err = tw_loop_run(d.loop);
	if (err)
		tw_err("event loop: %s", strerror(-err));
	sd_notify(0, "STOPPING=1");
	tw_info("stopping: pinned maps and links stay, enforcement continues");
	rc = err ? EXIT_FAILURE : EXIT_SUCCESS;
out:
	daemon_close(&d);
	return rc;
}
