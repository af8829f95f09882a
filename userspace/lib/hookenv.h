/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The environment OpenVPN 2.6 hands a script hook (client-connect,
 * client-disconnect, learn-address), parsed and validated into one struct.
 *
 * The parser is a pure function over an envp-like array of "KEY=VALUE"
 * strings and the hook's argv: no getenv(), no I/O. tunwarden-hook passes its
 * own environ; tests and the fuzzer pass tables. Only the variables listed
 * here are read; every one that is present is validated, even where the
 * script type does not require it, so a mangled environment is refused rather
 * than half used. Errors quote the variable and the value:
 *
 *	trusted_port: not a number: '12a'
 *	common_name: control character in 'ali\x0ace'
 *
 * Names (common_name, X509_0_OU, learn-address's CN) are UTF-8 (tw_utf8.h):
 * at most TW_HOOK_CN_MAX characters, no control characters, well-formed.
 *
 * What each script type requires:
 *   all                dev, script_type
 *   client-connect     common_name, trusted_ip or trusted_ip6 (untrusted_* as
 *                      fallback), trusted_port, and the dynamic config file:
 *                      argv[1], else client_connect_config_file
 *   client-disconnect  common_name, trusted address and port, bytes_received,
 *                      bytes_sent, time_duration
 *   learn-address      argv[1] add|update|delete, argv[2] the address
 *                      (IPv4 or IPv6, optionally /bits); argv[3] the CN for
 *                      add and update. MAC addresses (tap) are refused.
 */
#ifndef TW_HOOKENV_H
#define TW_HOOKENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include "tw_addr.h"

/* X.509 upper bound for a CN (ub-common-name) and for an OU (ub-organizational-unit-name), in
 * characters; in UTF-8 bytes at most TW_HOOK_CN_BYTES (fits a record's subject). */
#define TW_HOOK_CN_MAX	 64
#define TW_HOOK_CN_BYTES 255
#define TW_HOOK_PATH_MAX PATH_MAX

enum tw_hook_script {
	TW_HOOK_CLIENT_CONNECT = 1,
	TW_HOOK_CLIENT_DISCONNECT = 2,
	TW_HOOK_LEARN_ADDRESS = 3,
};

enum tw_hook_learn_op {
	TW_HOOK_LEARN_ADD = 1,
	TW_HOOK_LEARN_UPDATE = 2,
	TW_HOOK_LEARN_DELETE = 3,
};

struct tw_hook_env {
	enum tw_hook_script script_type;
	char dev[IFNAMSIZ];

	/* common_name; for learn-address add/update argv[3]. "" when absent. */
	char common_name[TW_HOOK_CN_BYTES + 1];
	/* X509_0_OU, the OU of the client certificate: a tenant hint. "" when absent. */
	char ou[TW_HOOK_CN_BYTES + 1];

	/* The client's real address. trusted_* are set by OpenVPN once the client is
	 * authenticated; when only untrusted_* were given, addr_untrusted says so. */
	bool has_trusted_ip;
	bool has_trusted_ip6;
	bool addr_untrusted;
	struct in_addr trusted_ip;
	struct in6_addr trusted_ip6;
	uint16_t trusted_port; /* host order; 0 when absent */

	/* The tunnel addresses OpenVPN assigned (ifconfig_pool_remote_ip[6]). */
	bool has_pool_ip;
	bool has_pool_ip6;
	struct in_addr pool_ip;
	struct in6_addr pool_ip6;

	/* client-disconnect accounting as OpenVPN counted it (tunnel payload bytes). */
	bool has_bytes;
	uint64_t bytes_received; /* from the client */
	uint64_t bytes_sent; /* to the client */
	bool has_time_unix;
	uint64_t time_unix; /* session start, seconds since the epoch */
	bool has_time_duration;
	uint64_t time_duration; /* seconds */

	/* client-connect: the file the hook may write per-client options to
	 * (e.g. session-timeout for sandboxed clients). "" otherwise. */
	char config_file[TW_HOOK_PATH_MAX];

	/* learn-address only. */
	enum tw_hook_learn_op learn_op;
	int learn_family; /* AF_INET / AF_INET6 */
	struct in6_addr learn_addr; /* IPv4 in the first 4 bytes */
	uint8_t learn_prefix; /* 32 / 128 when no /bits was given */
};

/*
 * Parse @envp (NULL-terminated "KEY=VALUE" strings) and the hook's @argc /
 * @argv into @out. Returns 0, or -EINVAL with @err holding a message naming
 * the variable and quoting its value. @out is written only on success.
 * Entries without '=' are ignored; a variable the parser reads that appears
 * twice is an error (getenv() and a shell would disagree on which one wins).
 */
int tw_hook_env_parse(char *const envp[], int argc, char *const argv[], struct tw_hook_env *out,
		      char *err, size_t errlen);

const char *tw_hook_script_name(enum tw_hook_script t);

/*
 * The name rules above for @s (@n bytes), shared with tunwardend's re-check
 * of hook requests (admission.c), so that a request forged without the hook
 * meets the same limits. 0, or -EINVAL with "@what: ..." in @err, the value
 * quoted and escaped.
 */
int tw_hook_check_name(const char *what, const char *s, size_t n, char *err, size_t errlen);

/* One address of the tunnel interface with its prefix length (the subnet OpenVPN configured). */
struct tw_hook_ifaddr {
	struct tw_addr addr;
	uint8_t plen;
};

/*
 * Whether @a may be a client's tunnel address on an interface holding
 * @ifa[0..@n): inside one of its subnets, but neither the interface's own
 * address nor an IPv4 subnet's network or broadcast address; link-local IPv6
 * subnets do not count. So a request cannot place a client at a service's
 * address elsewhere. 0, or -EINVAL with "@what: ..." in @err.
 */
int tw_hook_check_pool(const char *what, const struct tw_addr *a, const struct tw_hook_ifaddr *ifa,
		       size_t n, char *err, size_t errlen);

#endif /* TW_HOOKENV_H */
