/* SPDX-License-Identifier: BSD-3-Clause
 *
 * profile_check FILE...: parse drivers-cfg profiles with the relay's own
 * loader (no EAL); prints each one, or its "file:line: problem" and exits 2.
 * profile_check --keys: the loader's schema, one "section.key" a line.
 */
#include <stdio.h>
#include <string.h>

#include "profile.h"

int main(int argc, char **argv)
{
	char err[TR_PROF_ERR_LEN];
	int rc = 0;

	if (argc == 2 && strcmp(argv[1], "--keys") == 0) {
		tr_profile_print_keys(stdout);
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: profile_check --keys | FILE...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct tr_profile p;

		if (tr_profile_load(argv[i], &p, err) != 0) {
			fprintf(stderr, "%s\n", err);
			rc = 2;
			continue;
		}
		tr_profile_print(&p, stdout);
	}
	return rc;
}
