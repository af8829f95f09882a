// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <string.h>

#include "log.h"

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

int tw_adapters_open(struct tw_daemon *d)
{
	int first = 0;

	for (size_t i = 0; i < NADAPTERS; i++) {
		int err = adapters[i]->open ? adapters[i]->open(d) : 0;

		if (err) {
			tw_err("%s adapter: %s", adapters[i]->name, strerror(-err));
			first = first ? first : err;
		}
	}
	return first;
}

void tw_adapters_close(struct tw_daemon *d)
{
	for (size_t i = 0; i < NADAPTERS; i++)
		if (adapters[i]->close)
			adapters[i]->close(d);
}

json_t *tw_adapters_status(struct tw_daemon *d)
{
	json_t *o = NULL;

	for (size_t i = 0; i < NADAPTERS; i++) {
		if (!adapters[i]->status)
			continue;
		if (!o)
			o = json_object();
		if (o)
			json_object_set_new(o, adapters[i]->name, adapters[i]->status(d));
	}
	return o;
}

void tw_adapters_metrics(struct tw_daemon *d, FILE *f)
{
	for (size_t i = 0; i < NADAPTERS; i++)
		if (adapters[i]->metrics)
			adapters[i]->metrics(d, f);
}
