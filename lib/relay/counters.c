/* SPDX-License-Identifier: BSD-3-Clause */
#include "counters.h"

void tr_counters_add(struct tr_counters *out, const struct tr_counters *c)
{
#define TR_C_SUM(f, h) out->f += c->f;
	TR_COUNTERS(TR_C_SUM)
#undef TR_C_SUM
	for (unsigned d = 0; d < TR_DROP_MAX; d++)
		out->drops[d] += c->drops[d];
}

uint64_t tr_counters_drops_total(const struct tr_counters *c)
{
	uint64_t t = 0;

	for (unsigned d = 1; d < TR_DROP_MAX; d++)
		t += c->drops[d];
	return t;
}
