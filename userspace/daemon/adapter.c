// SPDX-License-Identifier: GPL-2.0-only
#include <string.h>

#include "adapter.h"

/* Every VPN stack the daemon speaks to; the first answers requests naming none. */
static const struct tw_adapter *const adapters[] = {
	&tw_openvpn_adapter,
};

#define NADAPTERS (sizeof(adapters) / sizeof(adapters[0]))

const struct tw_adapter *tw_adapter_by_name(const char *name)
{
	if (!name)
		return adapters[0];
	for (size_t i = 0; i < NADAPTERS; i++)
		if (!strcmp(adapters[i]->name, name))
			return adapters[i];
	return NULL;
}

const struct tw_adapter *tw_adapter_by_kind(enum tw_subject_kind kind)
{
	for (size_t i = 0; i < NADAPTERS; i++)
		if (adapters[i]->kind == kind)
			return adapters[i];
	return NULL;
}
