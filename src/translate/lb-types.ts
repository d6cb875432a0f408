/**
 * @module
 * The load-balancing map entries' flags and shapes, as lb_structs.h defines them: the flag values
 * mirror the header's enums (lb-types.test.ts reads the header and fails when they drift), the
 * types name the fields of each key and value (the control plane writes them through LbCodec at
 * the offsets BTF gives; these types serve decoded reads and tests).
 */

export const LB_SCOPE_EXTERNAL = 0;
export const LB_SCOPE_INTERNAL = 1;

export const LB_SVC_CLUSTER_IP = 1 << 0;
export const LB_SVC_NODEPORT = 1 << 1;
export const LB_SVC_EXTERNAL_IP = 1 << 2;
export const LB_SVC_LOADBALANCER = 1 << 3;
export const LB_SVC_AFFINITY = 1 << 4;
export const LB_SVC_ETP_LOCAL = 1 << 5;
export const LB_SVC_ITP_LOCAL = 1 << 6;
export const LB_SVC_SOURCE_RANGES = 1 << 7;
export const LB_SVC_DSR = 1 << 8;
export const LB_SVC_MAGLEV = 1 << 9;
export const LB_SVC_LOCALHOST_NODEPORT = 1 << 10;
export const LB_SVC_TWO_SCOPES = 1 << 11;
export const LB_SVC_VIP_MARKER = 1 << 12;

export const LB_BE_LOCAL = 1 << 0;
export const LB_BE_TERMINATING = 1 << 1;

export const IPPROTO = { TCP: 6, UDP: 17, SCTP: 132 } as const;

/** The control-plane-written maps, in lb_maps.h. */
export const LB_MAP_NAMES = ['lb_services', 'lb_slots', 'lb_backends', 'lb_rev_nat', 'lb_maglev', 'lb_node_addrs', 'lb_src_ranges'] as const;
export type LbMapName = (typeof LB_MAP_NAMES)[number];

export type LbServiceKey = { addr: Uint8Array; port: number; proto: number; scope: number };
export type LbServiceValue = {
  service_id: number;
  backend_count: number;
  local_backend_count: number;
  flags: number;
  affinity_timeout: number;
};
export type LbSlotKey = { service_id: number; slot: number };
export type LbBackend = { addr: Uint8Array; port: number; proto: number; flags: number; node_addr: Uint8Array };
export type LbRevNat = { addr: Uint8Array; port: number; pad: number };
export type LbNodeAddrKey = { addr: Uint8Array };
export type LbNodeAddrValue = { flags: number };
export type LbSrcRangeKey = { prefixlen: number; service_id: number; addr: Uint8Array };
