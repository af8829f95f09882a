// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the config file parser (config.c). `make fuzz`
 * builds and runs it (mk/fuzz.mk); by hand:
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE \
 *		-Iinclude -Iuserspace/lib selftests/fuzz/fuzz_config.c userspace/lib/config.c \
 *		-o build/fuzz/fuzz_config
 *	build/fuzz/fuzz_config -max_total_time=60 build/fuzz/corpus/fuzz_config
 *
 * Beyond "no crash": an error carries the file name and only printable
 * bytes (hostile tokens are escaped); a success yields a config whose
 * strings are terminated and whose numbers sit in their documented ranges.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

static void check_str(const char *s, size_t n, bool path)
{
	size_t len = strnlen(s, n);

	CHECK(len < n);
	if (path)
		CHECK(s[0] == '/');
}

static void check_printable(const char *s)
{
	for (; *s; s++)
		CHECK(*s >= 0x20 && *s < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tw_config c; /* ~70 KiB: not on the stack */
	char err[512];
	uint32_t i, j;
	int ret;

	memset(&c, 0x5a, sizeof(c));
	ret = tw_config_parse((const char *)data, size, "fuzz.conf", &c, err, sizeof(err));
	if (ret) {
		CHECK(ret == -EINVAL || ret == -E2BIG);
		CHECK(!strncmp(err, "fuzz.conf:", 10));
		check_printable(err);
		/* @out untouched on error */
		CHECK(((unsigned char *)&c)[0] == 0x5a &&
		      ((unsigned char *)&c)[sizeof(c) - 1] == 0x5a);
		return 0;
	}

	check_str(c.node_id, sizeof(c.node_id), false);
	check_str(c.state_dir, sizeof(c.state_dir), true);
	check_str(c.run_dir, sizeof(c.run_dir), true);
	check_str(c.pin_root, sizeof(c.pin_root), true);
	check_str(c.journal_path, sizeof(c.journal_path), true);
	check_str(c.policy_cache_path, sizeof(c.policy_cache_path), true);
	check_str(c.status_path, sizeof(c.status_path), true);
	check_str(c.socket_path, sizeof(c.socket_path), true);
	check_str(c.policy_file, sizeof(c.policy_file), true);
	CHECK(c.log_level <= TW_LOG_DEBUG);
	CHECK(c.attach_mode <= TW_ATTACH_TC);
	CHECK(c.offline_mode <= TW_OFFLINE_SANDBOX);

	CHECK(c.nifaces <= TW_CFG_MAX_IFACES);
	for (i = 0; i < c.nifaces; i++) {
		check_str(c.ifaces[i].pattern, sizeof(c.ifaces[i].pattern), false);
		CHECK(c.ifaces[i].pattern[0]);
		CHECK(c.ifaces[i].l3_off <= 64);
		CHECK(c.ifaces[i].nprofiles <= TW_CFG_MAX_IFACE_PROFILES);
		for (j = 0; j < c.ifaces[i].nprofiles; j++)
			check_str(c.ifaces[i].profiles[j], TW_CFG_NAME_MAX, false);
	}
	check_str(c.uplink, sizeof(c.uplink), false);
	CHECK(c.nvports <= TW_CFG_MAX_VPORTS);
	CHECK(!c.uplink[0] || c.nvports);
	for (i = 0; i < c.nvports; i++) {
		CHECK(c.vports[i].port != 0);
		CHECK(c.vports[i].kind >= TW_VPN_OPENVPN && c.vports[i].kind <= TW_VPN_IKE);
		for (j = 0; j < i; j++)
			CHECK(c.vports[j].port != c.vports[i].port ||
			      c.vports[j].proto != c.vports[i].proto);
	}
	CHECK(c.ucfg.v4_prefix >= 8 && c.ucfg.v4_prefix <= 32);
	CHECK(c.ucfg.v6_prefix >= 16 && c.ucfg.v6_prefix <= 128);
	CHECK(c.ucfg.hs_burst >= 1);
	CHECK(c.interim_interval_s >= 10 && c.interim_interval_s <= 86400);
	CHECK(c.journal_max_bytes >= (1u << 20));
	CHECK(c.confirm_timeout_s >= 10);
	CHECK(c.novpn_mgmt <= TW_CFG_MAX_MGMT);
	for (i = 0; i < c.novpn_mgmt; i++)
		check_str(c.ovpn_mgmt[i], sizeof(c.ovpn_mgmt[i]), true);
	if (c.metrics_enabled) {
		CHECK(c.metrics_port != 0);
		CHECK(c.metrics_family == AF_INET ? c.metrics_addr[0] == 127 :
						    c.metrics_addr[15] == 1);
	}
	(void)tw_config_iface_match(&c, "tun0");
	tw_config_free(&c);
	return 0;
}
