/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* north_south.h: the whole north-south datapath (fastpath.h, nodeport.h and everything they need), in the
 * order each header's contract asks for. The tc and XDP objects include only this, after
 * defining KPB_CTX_SKB or KPB_CTX_XDP (ctx.h), so the two builds of the one implementation
 * cannot drift apart in what they include. */
#ifndef KPB_NORTH_SOUTH_H
#define KPB_NORTH_SOUTH_H

#include "ctx.h"
#include "lb_maps.h"
#include "lb_select.h"
#include "counters.h"
#include "parse.h"
#include "conntrack.h"
#include "frag.h"
#include "sctp.h"
#include "nat.h"
#include "svc.h"
#include "reply.h"
#include "nodeport.h"
#include "fastpath.h"

#endif /* KPB_NORTH_SOUTH_H */
