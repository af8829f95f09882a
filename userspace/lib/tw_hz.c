// SPDX-License-Identifier: GPL-2.0-only
/*
 * libtw: the running kernel's CONFIG_HZ, which makes bpf_jiffies64() (one
 * inlined load) usable as the flow clock. See tw_dp.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <zlib.h>

#include "tw_dp.h"

/* CONFIG_HZ=N in a kernel config (plain or gzip: gzopen reads both). */
int tw_config_hz(const char *path)
{
	char line[256];
	gzFile f = gzopen(path, "r");
	int hz = -ENOENT;

	if (!f)
		return -ENOENT;
	while (gzgets(f, line, sizeof(line))) {
		char *end;
		long v;

		if (strncmp(line, "CONFIG_HZ=", 10))
			continue;
		errno = 0;
		v = strtol(line + 10, &end, 10);
		/* Kconfig offers 100, 250, 300 and 1000 (some architectures 24 to 1024) */
		hz = (errno || end == line + 10 || (*end != '\n' && *end) || v < 24 || v > 10000) ?
			     -EINVAL :
			     (int)v;
		break;
	}
	gzclose(f);
	return hz;
}

int tw_kernel_hz(void)
{
	struct utsname u;
	char path[128 + sizeof(u.release)];
	int hz = -ENOENT;

	if (uname(&u) == 0) {
		snprintf(path, sizeof(path), "/boot/config-%s", u.release);
		hz = tw_config_hz(path);
	}
	if (hz == -ENOENT)
		hz = tw_config_hz("/proc/config.gz");
	return hz;
}
