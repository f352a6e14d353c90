/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERELAY_CHECK_H
#define TERELAY_CHECK_H

#include <stdio.h>

#include "config.h"
#include "profile.h"

/*
 * --check-config, after rte_eal_init: open the configured ports with the
 * profile (validate queues, offloads, rte_flow rules, then close them),
 * check the lcore layout and NUMA placement, print what would run on out.
 * Returns 0, or 2 with one clear line on stderr.
 */
int tr_check_config(const struct tr_config *cfg, const char *config_path,
		    const struct tr_profile *prof, FILE *out);

#endif /* TERELAY_CHECK_H */
