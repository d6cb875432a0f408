// Runs inside the namespace podcost.ts builds (datapath/test/pod-env.ts: pods p1 and p2 on their own
// interfaces, node-b's pods behind the uplink), so bpf_fib_lookup sees those routes and neighbours.
// Loads pod.bpf.o beside the north-south objects (one pin folder), writes ClusterIPs with a remote
// and a local backend, and times the pod programs with BPF_PROG_TEST_RUN, repeat=1 on a fresh
// frame per sample, in rounds (measuring.md: the kernel does not restore the input between
// repetitions, and a first packet is what a repeat=1 run measures).
import { BpfObject, attachTc } from 'bpf-loader-napi';
import { skbCtx, SVC } from '../../datapath/test/np-env.ts';
import { pkt, addr16, PROTO } from '../../datapath/test/packet.ts';
import { PodEnv, POD_ADDR, POD_MAC } from '../../datapath/test/pod-env.ts';

const [vp1Arg, vp2Arg, spareArg, samplesArg, roundsArg, passObj] = process.argv.slice(2);
const VP1 = Number(vp1Arg);
const VP2 = Number(vp2Arg);
const spare = Number(spareArg);
const samples = Number(samplesArg ?? 20000);
const rounds = Number(roundsArg ?? 3);
const NEW_FLOWS = 2000;
const A = POD_ADDR[4];
const VIP_REMOTE = '198.19.0.1';
const VIP_LOCAL = '198.19.0.2';

interface Series { ns: number[]; verdicts: Record<string, number> }

const env = await PodEnv.load({}, 'podcost');
const links: Array<{ detach(): void }> = [];
try {
  env.setPods(A.cluster, POD_ADDR[6].cluster);
  const m = (n: string) => env.map(n);
  const service = (id: number, vip: string, backend: string, local: boolean) => {
    m('lb_backends').update(id, { addr: addr16(backend), port: 9, proto: PROTO.UDP, flags: local ? 1 : 0, node_addr: new Uint8Array(16) });
    m('lb_slots').update({ service_id: id, slot: 1 }, id);
    m('lb_rev_nat').update(id, { addr: addr16(vip), port: 53, pad: 0 });
    m('lb_services').update({ addr: addr16(vip), port: 53, proto: PROTO.UDP, scope: 1 },
      { service_id: id, backend_count: 1, local_backend_count: local ? 1 : 0, flags: SVC.CLUSTER_IP, affinity_timeout: 0 });
    m('lb_services').update({ addr: addr16(vip), port: 0, proto: 0, scope: 0 },
      { service_id: 0, backend_count: 0, local_backend_count: 0, flags: SVC.VIP_MARKER | SVC.CLUSTER_IP, affinity_timeout: 0 });
  };
  service(1, VIP_REMOTE, A.remote, false);
  service(2, VIP_LOCAL, A.p2, true);
  m('lb_service_cidrs').update({ prefixlen: 96 + 16, addr: addr16('198.19.0.0') }, 1);
  const udp = (src: string, dst: string, sport: number, dport: number, mac: { src: string; dst: string }): Buffer =>
    pkt().eth(mac).ipv4({ src, dst }).udp({ sport, dport }).payload(new Uint8Array(18)).build() as Buffer;
  const fromP1 = { src: POD_MAC.p1, dst: POD_MAC.vp1 };
  const toP1 = { src: POD_MAC.vp1, dst: POD_MAC.p1 };
  const pass = await BpfObject.open(passObj).load({});
  // Attached first, as the datapath runs them (the tc floor program stays detached: nothing of it to warm).
  links.push(attachTc(env.ingress, spare, { direction: 'ingress' }));
  links.push(attachTc(env.egress, spare, { direction: 'egress' }));
  const run = (prog: 'ingress' | 'egress' | 'pass', data: Buffer, ifindex = VP1) =>
    (prog === 'pass' ? pass.program('kpb_bench_tc_pass') : prog === 'ingress' ? env.ingress : env.egress).testRun({ data, ctx: skbCtx(ifindex) });

  /** repeat=1 samples of one frame (established: its entries made by a first run, not counted) or of new flows. */
  const series = (prog: 'ingress' | 'egress' | 'pass', make: (i: number) => Buffer, n: number, skipFirst: boolean, prime?: () => void): Series => {
    env.clearCt();
    prime?.();
    const ns: number[] = [];
    const verdicts: Record<string, number> = {};
    for (let i = 0; i < n + (skipFirst ? 1 : 0); i++) {
      const r = run(prog, make(i));
      if (!skipFirst || i > 0) ns.push(r.durationNs);
      verdicts[r.retval] = (verdicts[r.retval] ?? 0) + 1;
    }
    return { ns, verdicts };
  };
  const established = (vip: string) => {
    const f = udp(A.p1, vip, 10_000, 53, fromP1);
    return series('ingress', () => Buffer.from(f), samples, true);
  };
  const fresh = (vip: string, round: number) => series('ingress', (i) => udp(A.p1, vip, 1024 + ((round * NEW_FLOWS + i) % 60_000), 53, fromP1), Math.min(samples, NEW_FLOWS), false);
  const reply = () => {
    const r = udp(A.remote, A.p1, 9, 10_001, toP1);
    return series('egress', () => Buffer.from(r), samples, false, () => void run('ingress', udp(A.p1, VIP_REMOTE, 10_001, 53, fromP1)));
  };
  const untracked = () => {
    const f = udp(A.p1, '198.18.2.9', 10_002, 53, fromP1);
    return series('ingress', () => Buffer.from(f), samples, false);
  };
  const out = [];
  for (let round = 0; round < rounds; round++) {
    out.push({
      floor: series('pass', () => udp(A.p1, VIP_REMOTE, 1, 53, fromP1), samples, false),
      establishedRemote: established(VIP_REMOTE),
      establishedLocal: established(VIP_LOCAL),
      newRemote: fresh(VIP_REMOTE, round),
      newLocal: fresh(VIP_LOCAL, round),
      replyEgress: reply(),
      untracked: untracked(),
    });
  }
  pass.close();
  process.stdout.write(JSON.stringify({ rounds: out, vp2: VP2 }) + '\n');
} finally {
  for (const l of links.reverse()) l.detach();
  env.close();
}
