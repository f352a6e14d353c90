/* SPDX-License-Identifier: BSD-3-Clause */
#include "teredo.h"

static const char *const drop_names[TR_DROP_MAX] = {
	[TR_DROP_NONE] = "none",
#define TR_DROP(id, name, help) [TR_DROP_##id] = name,
#include "drop_reasons.def"
#undef TR_DROP
};

static const char *const drop_helps[TR_DROP_MAX] = {
	[TR_DROP_NONE] = "not dropped",
#define TR_DROP(id, name, help) [TR_DROP_##id] = help,
#include "drop_reasons.def"
#undef TR_DROP
};

const char *tr_drop_name(enum tr_drop_reason r)
{
	return (unsigned)r < TR_DROP_MAX ? drop_names[r] : "unknown";
}

const char *tr_drop_help(enum tr_drop_reason r)
{
	return (unsigned)r < TR_DROP_MAX ? drop_helps[r] : "unknown";
}
