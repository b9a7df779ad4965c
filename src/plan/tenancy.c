/* Which tenancy changes EC2 makes in place on a stopped instance. EC2's
 * pages disagree, so the strictest reading wins (docs/TENANCY.md has the
 * sources); the simulator enforces the same table. */
#include "nestplan/plan.h"

#define N 4 /* UNSET, DEFAULT, DEDICATED, HOST */

static const enum np_tenancy_move moves[N][N] = {
	/* An unknown current tenancy is the default one (EC2 reports it always). */
	[NP_TENANCY_UNSET] = { NP_MOVE_NONE, NP_MOVE_NONE, NP_MOVE_REPLACE, NP_MOVE_REPLACE },
	/* The Windows User Guide: not from default to dedicated or host. */
	[NP_TENANCY_DEFAULT] = { NP_MOVE_NONE, NP_MOVE_NONE, NP_MOVE_REPLACE, NP_MOVE_REPLACE },
	/* The User Guide: not back to default; dedicated to host is allowed by
	 * every source, and its reverse by none that is strict. */
	[NP_TENANCY_DEDICATED] = { NP_MOVE_NONE, NP_MOVE_REPLACE, NP_MOVE_NONE,
				   NP_MOVE_IRREVERSIBLE },
	/* The ModifyInstancePlacement reference: not from host to dedicated or
	 * default. Another host (a HostId change) is in place and reversible. */
	[NP_TENANCY_HOST] = { NP_MOVE_NONE, NP_MOVE_REPLACE, NP_MOVE_REPLACE, NP_MOVE_NONE },
};

enum np_tenancy_move np_tenancy_move(enum np_tenancy from, enum np_tenancy to)
{
	if ((unsigned)from >= N || (unsigned)to >= N || to == NP_TENANCY_UNSET)
		return NP_MOVE_NONE;
	return moves[from][to];
}
