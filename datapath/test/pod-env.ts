// Test environment of the pod-side datapath (pod.bpf.o): the node namespace of its fixtures, with
// two pod interfaces and an uplink, and the pod object loaded beside the north-south objects into
// one pin folder (shared lb_* maps, as on a node), with readers for its conntrack and counters.
//   ext0 (uplink): 192.0.2.11/24, 2001:db8:1::11/64; node-b 192.0.2.12 / 2001:db8:1::12 (MAC ...:00:12)
//     routes node-b's pods 198.18.2.0/24 and 2001:db8:10:2::/64
//   v-p1: pod p1 198.18.1.11 / 2001:db8:10:1::11 (MAC 02:00:00:00:11:01), node side 02:00:00:00:10:01
//   v-p2: pod p2 198.18.1.12 / 2001:db8:10:1::12 (MAC 02:00:00:00:11:02), node side 02:00:00:00:10:02
// Each v-pN owns the pods' gateway 198.18.1.1/32 and fe80::1/64, with a /32 and /128 route to its
// pod, like the e2e cluster's routed pods; all neighbours are static.
import { existsSync } from 'node:fs';
import { BpfObject, type BpfMap, type BpfProgram, type Collection, type RodataValue } from 'bpf-loader-napi';
import { Netns } from './netns.ts';
import { NpEnv, counterOf, text16, type CtEntry } from './np-env.ts';
import { addrBytes } from './packet.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
export const POD_OBJ = `${ROOT}build/bpf/pod.bpf.o`;

export const POD_MAC = {
  ext0: '02:00:00:00:00:11', nodeB: '02:00:00:00:00:12',
  vp1: '02:00:00:00:10:01', p1: '02:00:00:00:11:01', vp2: '02:00:00:00:10:02', p2: '02:00:00:00:11:02',
} as const;

export const POD_ADDR = {
  4: { p1: '198.18.1.11', p2: '198.18.1.12', node: '192.0.2.11', nodeB: '192.0.2.12', remote: '198.18.2.5', outside: '192.0.2.100', cluster: '198.18.0.0/16' },
  6: { p1: '2001:db8:10:1::11', p2: '2001:db8:10:1::12', node: '2001:db8:1::11', nodeB: '2001:db8:1::12', remote: '2001:db8:10:2::5', outside: '2001:db8:1::100', cluster: '2001:db8:10::/56' },
} as const;

export interface PodTopo { ns: Netns; ext0: number; vp1: number; vp2: number }

export function createPodTopology(suffix: string): PodTopo {
  const ns = Netns.create(suffix);
  try {
    ns.sysctl('net.ipv4.ip_forward', '1');
    ns.sysctl('net.ipv6.conf.all.forwarding', '1');
    ns.ip('link', 'add', 'ext0', 'address', POD_MAC.ext0, 'type', 'veth', 'peer', 'name', 'ext0p');
    ns.ip('link', 'add', 'v-p1', 'address', POD_MAC.vp1, 'type', 'veth', 'peer', 'name', 'p1', 'address', POD_MAC.p1);
    ns.ip('link', 'add', 'v-p2', 'address', POD_MAC.vp2, 'type', 'veth', 'peer', 'name', 'p2', 'address', POD_MAC.p2);
    for (const d of ['ext0', 'ext0p', 'v-p1', 'p1', 'v-p2', 'p2']) ns.ip('link', 'set', d, 'up');
    ns.ip('addr', 'add', '192.0.2.11/24', 'dev', 'ext0');
    ns.ip('-6', 'addr', 'add', '2001:db8:1::11/64', 'dev', 'ext0', 'nodad');
    const neigh = (addr: string, mac: string, dev: string) => ns.ip('neigh', 'replace', addr, 'lladdr', mac, 'dev', dev, 'nud', 'permanent');
    neigh('192.0.2.12', POD_MAC.nodeB, 'ext0');
    neigh('2001:db8:1::12', POD_MAC.nodeB, 'ext0');
    ns.ip('route', 'add', '198.18.2.0/24', 'via', '192.0.2.12', 'dev', 'ext0');
    ns.ip('-6', 'route', 'add', '2001:db8:10:2::/64', 'via', '2001:db8:1::12', 'dev', 'ext0');
    for (const [dev, pod] of [['v-p1', 'p1'], ['v-p2', 'p2']] as const) {
      ns.ip('addr', 'add', '198.18.1.1/32', 'dev', dev);
      ns.ip('-6', 'addr', 'add', 'fe80::1/64', 'dev', dev, 'nodad');
      ns.ip('route', 'add', `${POD_ADDR[4][pod]}/32`, 'dev', dev);
      ns.ip('-6', 'route', 'add', `${POD_ADDR[6][pod]}/128`, 'dev', dev);
      neigh(POD_ADDR[4][pod], POD_MAC[pod], dev);
      neigh(POD_ADDR[6][pod], POD_MAC[pod], dev);
    }
    return { ns, ext0: ns.ifindex('ext0'), vp1: ns.ifindex('v-p1'), vp2: ns.ifindex('v-p2') };
  } catch (err) {
    ns.remove();
    throw err;
  }
}

/** pod.h's constants (not layout, so BTF cannot supply them). Keep in sync by hand. */
export const POD_CT = { ROUTE: 1 << 15, HAIRPIN: 1 << 14 } as const;
export const POD_HOOK = { INGRESS: 0, EGRESS: 1 } as const;
export const POD_CNT = { HAIRPIN: 32, NOT_POD: 33, UNALLOCATED: 34, BAD_SCOPE: 35 } as const;
export const POD_CNT_MAX = 40;
export const POD_CFG = { V4_CIDR: 1, V4_NONE: 2, V6_CIDR: 4, V6_NONE: 8 } as const;

/** The pod object loaded beside the north-south ones (np), sharing their pin folder. */
export class PodEnv {
  readonly np: NpEnv;
  readonly pod: Collection;

  private constructor(np: NpEnv, pod: Collection) {
    this.np = np;
    this.pod = pod;
  }

  static async load(rodata: Record<string, RodataValue> = {}, tag = 'pod'): Promise<PodEnv> {
    if (!existsSync(POD_OBJ)) throw new Error(`missing ${POD_OBJ}: run "make bpf"`);
    const np = await NpEnv.load(rodata, tag);
    try {
      const pod = await BpfObject.open(POD_OBJ).setRodata(rodata).load({ pinPath: np.pin });
      return new PodEnv(np, pod);
    } catch (err) {
      np.close();
      throw err;
    }
  }

  map(name: string): BpfMap { return this.pod.map(name); }
  get ingress(): BpfProgram { return this.pod.program('kpb_pod_ingress'); }
  get egress(): BpfProgram { return this.pod.program('kpb_pod_egress'); }

  /** Pods are the addresses of these CIDRs (null: every address of that family; 'none': none). */
  setPods(v4: string | null | 'none', v6: string | null | 'none'): void {
    let flags = 0;
    const cfg = { flags: 0, net4: 0, mask4: 0, pad: 0, net6: new Uint8Array(16), mask6: new Uint8Array(16) };
    if (v4 === 'none') flags |= POD_CFG.V4_NONE;
    else if (v4) {
      const [a, len] = v4.split('/');
      const mask = Number(len) === 0 ? 0 : (0xffffffff << (32 - Number(len))) >>> 0;
      cfg.net4 = (Buffer.from(addrBytes(a)).readUInt32BE(0) & mask) >>> 0;
      cfg.mask4 = mask;
      flags |= POD_CFG.V4_CIDR;
    }
    if (v6 === 'none') flags |= POD_CFG.V6_NONE;
    else if (v6) {
      const [a, len] = v6.split('/');
      const b = addrBytes(a);
      for (let i = 0; i < 16; i++) {
        const bits = Math.max(0, Math.min(8, Number(len) - i * 8));
        cfg.mask6[i] = (0xff << (8 - bits)) & 0xff;
        cfg.net6[i] = b[i] & cfg.mask6[i];
      }
      flags |= POD_CFG.V6_CIDR;
    }
    cfg.flags = flags;
    this.map('kpb_pod_cfg').update(0, cfg);
  }

  ctEntries(): CtEntry[] {
    return ['kpb_pod_ct4', 'kpb_pod_ct6'].flatMap((map) => [...this.map(map).entries()].map(([k, v]) => {
      const key = k as { src: Uint8Array | number; dst: Uint8Array | number; sport: number; dport: number; proto: number };
      const val = v as Record<string, unknown>;
      return {
        map,
        key: { src: keyText(key.src), dst: keyText(key.dst), sport: key.sport, dport: key.dport, proto: key.proto },
        natSrc: text16(val.nat_src as Uint8Array), natDst: text16(val.nat_dst as Uint8Array),
        natSport: val.nat_sport as number, natDport: val.nat_dport as number, flags: val.flags as number,
        serviceId: val.service_id as number, backendId: val.backend_id as number,
        tcpState: val.tcp_state as number, expires: val.expires as number, beGen: val.be_gen as number,
        nh: val.nh as CtEntry['nh'],
      };
    }));
  }

  clearCt(): void {
    for (const name of ['kpb_pod_ct4', 'kpb_pod_ct6', 'kpb_frag4', 'kpb_frag6']) {
      const keys = [...this.map(name).keys({ raw: true })];
      if (keys.length) this.map(name).deleteBatch(keys);
    }
  }

  counter(hook: number, c: number): number {
    return counterOf(this.map('kpb_pod_counters'), hook * POD_CNT_MAX, POD_CNT_MAX, c);
  }

  close(): void {
    this.pod.close();
    this.np.close();
  }
}

function keyText(a: Uint8Array | number): string {
  if (typeof a === 'number') return text16(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff]));
  return text16(a);
}
