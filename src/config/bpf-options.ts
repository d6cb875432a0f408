/**
 * @module
 * Our own datapath options. They come only from `--bpf-*` flags (the KubeProxyConfiguration file
 * has no place for them, and a stock ConfigMap must keep working), and apply with or without
 * --config. Map-size defaults match the max_entries in datapath/include.
 */
import { isAbsolute } from 'node:path';
import { invalid, unsupported } from './field-error.ts';
import type { FieldError } from './field-error.ts';

/** The most SNAT reservation slots per family: kpb_snat_gc walks each table in one bpf_loop (at most 2^23 runs). */
export const MAX_SNAT_SLOTS = 2 ** 23;

export type BpfMapSizes = {
  /** lb_services entries. @default 65536 */
  services: number;
  /** lb_backends entries. @default 65536 */
  backends: number;
  /** lb_slots entries (service id, slot -> backend). @default 262144 */
  slots: number;
  /** kpb_ct4 and kpb_ct6 entries, each (LRU). @default 262144 */
  conntrack: number;
  /**
   * Slots of the SNAT reservation tables kpb_snat4 and kpb_snat6, each (preallocated arrays, never
   * evicted), rounded up to a power of two. @default 262144
   */
  snat: number;
  /** lb_affinity entries (LRU). @default 65536 */
  affinity: number;
  /** lb_sock_rev_nat entries (LRU). @default 262144 */
  sockRevNat: number;
};

export type BpfOptions = {
  /** How remote backends are reached from tc/XDP: SNAT, DSR, or DSR for TCP and SNAT for UDP. @default 'snat' */
  lbMode: 'snat' | 'dsr' | 'hybrid';
  /** Backend selection for new flows. @default 'random' */
  algorithm: 'random' | 'maglev';
  /** Maglev lookup table size M per service; must be prime. @default 16381 */
  maglevTableSize: number;
  /** XDP acceleration; `generic` is for tests on veth only. @default 'native' */
  xdp: 'native' | 'off' | 'generic';
  /** Socket-level load balancing at the cgroup hooks. @default 'on' */
  socketLB: 'on' | 'off' | 'host-namespace-only';
  /** External devices for tc/XDP; empty means auto-detect from the node IPs' routes. @default [] */
  devices: string[];
  /** bpffs directory holding our pinned maps and links. @default '/sys/fs/bpf/kube-proxy-bpf' */
  pinPath: string;
  /** cgroup v2 directory the socket programs attach to; '' means the cgroup2 mount root. @default '' */
  cgroupPath: string;
  mapSizes: BpfMapSizes;
  /**
   * The map sizes given by --bpf-map-* flags; the others are sized from node memory and the
   * listed objects (map-sizes.ts). @default []
   */
  mapSizesSet?: (keyof BpfMapSizes)[];
  /** Remove a previous kube-proxy's iptables/nftables rules at start-up. @default true */
  removeStaleKubeProxyRules: boolean;
  /** Source ports used for NodePort SNAT to remote backends. @default {min: 61000, max: 65535} */
  nodePortSnatPortRange: { min: number; max: number };
};

export const LB_MODES = ['snat', 'dsr', 'hybrid'] as const;
export const ALGORITHMS = ['random', 'maglev'] as const;
export const XDP_MODES = ['native', 'off', 'generic'] as const;
export const SOCKET_LB_MODES = ['on', 'off', 'host-namespace-only'] as const;
export const DEFAULT_PIN_PATH = '/sys/fs/bpf/kube-proxy-bpf';

/** BpfOptions with every default. */
export function defaultBpfOptions(): BpfOptions {
  return {
    lbMode: 'snat',
    algorithm: 'random',
    maglevTableSize: 16381,
    xdp: 'native',
    socketLB: 'on',
    devices: [],
    pinPath: DEFAULT_PIN_PATH,
    cgroupPath: '',
    mapSizes: { services: 65536, backends: 65536, slots: 262144, conntrack: 262144, snat: 262144, affinity: 65536, sockRevNat: 262144 },
    removeStaleKubeProxyRules: true,
    // Above Linux's default ip_local_port_range (32768-60999), so SNAT never shadows the node's own sockets.
    nodePortSnatPortRange: { min: 61000, max: 65535 },
  };
}

/** The flag each BpfOptions field comes from, so errors name what the user typed. */
export const BPF_FLAG = {
  lbMode: 'bpf-lb-mode',
  algorithm: 'bpf-lb-algorithm',
  maglevTableSize: 'bpf-maglev-table-size',
  xdp: 'bpf-xdp',
  socketLB: 'bpf-socket-lb',
  devices: 'bpf-devices',
  pinPath: 'bpf-pin-path',
  cgroupPath: 'bpf-cgroup-path',
  removeStaleKubeProxyRules: 'bpf-remove-stale-kube-proxy-rules',
  nodePortSnatPortRange: 'bpf-nodeport-snat-port-range',
  mapSizes: {
    services: 'bpf-map-services',
    backends: 'bpf-map-backends',
    slots: 'bpf-map-slots',
    conntrack: 'bpf-map-conntrack',
    snat: 'bpf-map-snat',
    affinity: 'bpf-map-affinity',
    sockRevNat: 'bpf-map-sock-rev-nat',
  },
} as const;

/** Every problem in `o`, with `--flag` as the field path. */
export function validateBpfOptions(o: BpfOptions): FieldError[] {
  const errs: FieldError[] = [];
  const f = (name: string) => `--${name}`;
  if (!LB_MODES.includes(o.lbMode)) errs.push(unsupported(f(BPF_FLAG.lbMode), o.lbMode, [...LB_MODES]));
  if (!ALGORITHMS.includes(o.algorithm)) errs.push(unsupported(f(BPF_FLAG.algorithm), o.algorithm, [...ALGORITHMS]));
  if (!XDP_MODES.includes(o.xdp)) errs.push(unsupported(f(BPF_FLAG.xdp), o.xdp, [...XDP_MODES]));
  if (!SOCKET_LB_MODES.includes(o.socketLB)) errs.push(unsupported(f(BPF_FLAG.socketLB), o.socketLB, [...SOCKET_LB_MODES]));
  // Maglev's permutation needs a prime M; 65537 keeps the table in a u16-indexable range plus one.
  if (!Number.isInteger(o.maglevTableSize) || !isPrime(o.maglevTableSize) || o.maglevTableSize > 65537) {
    errs.push(invalid(f(BPF_FLAG.maglevTableSize), o.maglevTableSize, 'must be a prime number no larger than 65537 (e.g. 251, 16381, 65521)'));
  }
  o.devices.forEach((d, i) => {
    if (!/^[^\s/:]{1,15}$/.test(d)) errs.push(invalid(`${f(BPF_FLAG.devices)}[${i}]`, d, 'must be a network interface name (1-15 characters, no "/", ":" or spaces)'));
  });
  if (!isAbsolute(o.pinPath)) errs.push(invalid(f(BPF_FLAG.pinPath), o.pinPath, 'must be an absolute path'));
  if (o.cgroupPath !== '' && !isAbsolute(o.cgroupPath)) errs.push(invalid(f(BPF_FLAG.cgroupPath), o.cgroupPath, 'must be an absolute path'));
  for (const [k, flag] of Object.entries(BPF_FLAG.mapSizes)) {
    const v = o.mapSizes[k as keyof BpfMapSizes];
    if (!Number.isInteger(v) || v < 1 || v > 2 ** 28) errs.push(invalid(f(flag), v, 'must be an integer within the range [1, 268435456]'));
  }
  if (Number.isInteger(o.mapSizes.snat) && o.mapSizes.snat > MAX_SNAT_SLOTS) {
    errs.push(invalid(f(BPF_FLAG.mapSizes.snat), o.mapSizes.snat, `must be at most ${MAX_SNAT_SLOTS} (the sweep walks each table in one bpf_loop)`));
  }
  const { min, max } = o.nodePortSnatPortRange;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1024 || max > 65535 || min > max) {
    errs.push(invalid(f(BPF_FLAG.nodePortSnatPortRange), `${min}-${max}`, 'must be MIN-MAX with 1024 <= MIN <= MAX <= 65535'));
  }
  return errs;
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}
