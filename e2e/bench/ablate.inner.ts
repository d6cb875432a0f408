// Runs inside the namespace ablate.ts builds: loads every variant's xdp.bpf.o and tc.bpf.o (each
// pair in its own pin folder, so nothing is shared between variants), writes the same UDP NodePort
// to a remote backend into each (as progcost.inner.ts does), attaches each variant's XDP program
// to its own spare device (so every one is called directly by the dispatcher, like the floor
// program on its spare), and times them with BPF_PROG_TEST_RUN, repeat=1 on a fresh frame.
//
// Variants are interleaved in blocks of a few samples, so that whatever else the machine does
// hits every variant alike; a component's cost is then the difference of two p50s taken over the
// same stretch of time.
import { BpfObject, attachTc, attachXdp } from 'bpf-loader-napi';
import { NpEnv, SVC, TC, XDP, skbCtx, xdpCtx } from '../../datapath/test/np-env.ts';
import { PROTO, parse, pkt } from '../../datapath/test/packet.ts';
import { writeMirror } from './progcost-mirror.ts';
import { MAC } from '../../datapath/test/np-topology.ts';

export interface AblateInnerConfig {
  ifindex: number;
  variants: Array<{ name: string; dir: string; spare: number }>;
  passObj: string; tcPassObj: string; passSpare: number;
  nodeIp: string; clientIp: string; backendIp: string; extIp: string; clientMac: string; nodeMac: string;
  /** repeat=1 samples per variant and case in one round (new flows: at most NEW_FLOWS). */
  samples: number;
  block: number;
  rounds: number;
}

/** case -> variant -> samples (ns), one object per round. */
export type AblateRound = Record<string, Record<string, number[]>>;

const cfg = JSON.parse(process.argv[2]!) as AblateInnerConfig;
const NODEPORT = 30080;
const NEW_FLOWS = 2000; // under half of the SNAT range, as progcost.inner.ts
const WARM_REPEAT = 200;

const frame = (sport: number, dst = cfg.nodeIp, dport = NODEPORT, ttl = 64): Buffer => pkt().eth({ src: cfg.clientMac, dst: cfg.nodeMac })
  .ipv4({ src: cfg.clientIp, dst, ttl }).udp({ sport, dport }).payload(new Uint8Array(18)).build() as Buffer;

/** xs, starting at index k (mod its length). */
const rotate = <T>(xs: T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length]!);

const envs: Array<{ name: string; env: NpEnv }> = [];
const links: Array<{ detach(): void }> = [];
const objs: Array<{ close(): void }> = [];
try {
  for (const [i, v] of cfg.variants.entries()) {
    const env = await NpEnv.load({ kpb_snat_port_min: 61000, kpb_snat_port_max: 65535 }, `abl${i}`, {}, v.dir);
    envs.push({ name: v.name, env });
    env.addNodeAddr(cfg.nodeIp);
    env.addService({ id: 1, addr: null, family: 4, port: NODEPORT, proto: PROTO.UDP, flags: SVC.NODEPORT, revAddr: cfg.nodeIp,
      backends: [{ id: 1, addr: cfg.backendIp, port: 9 }] });
    env.addService({ id: 2, addr: cfg.extIp, port: 80, proto: PROTO.UDP, flags: SVC.EXTERNAL_IP, backends: [{ id: 2, addr: cfg.backendIp, port: 9 }] });
    links.push(attachXdp(env.xdpProg, v.spare, { mode: 'native' }));
    links.push(attachTc(env.tcIngress, v.spare, { direction: 'ingress' }));
  }
  const pass = await BpfObject.open(cfg.passObj).load({});
  const tcPass = await BpfObject.open(cfg.tcPassObj).load({});
  objs.push(pass, tcPass);
  links.push(attachXdp(pass.program('kpb_bench_pass'), cfg.passSpare, { mode: 'native' }));

  const xrun = (env: NpEnv, hook: 'xdp' | 'tc', data: Buffer, repeat = 1) => (hook === 'xdp'
    ? env.xdpProg.testRun({ data, ctx: xdpCtx(cfg.ifindex, data.length), repeat })
    : env.tcIngress.testRun({ data, ctx: skbCtx(cfg.ifindex), repeat }));

  const rounds: AblateRound[] = [];
  for (let round = 0; round < cfg.rounds; round++) {
    const out: AblateRound = {};
    // Floors, interleaved with each other.
    {
      const f = frame(10_000);
      const xs: number[] = [];
      const ts: number[] = [];
      for (let i = 0; i < cfg.samples; i++) {
        xs.push(pass.program('kpb_bench_pass').testRun({ data: Buffer.from(f), ctx: xdpCtx(cfg.ifindex, f.length) }).durationNs);
        ts.push(tcPass.program('kpb_bench_tc_pass').testRun({ data: Buffer.from(f), ctx: skbCtx(cfg.ifindex) }).durationNs);
      }
      out.floor = { pass: xs };
      out.tcFloor = { pass: ts };
    }
    for (const hook of ['xdp', 'tc'] as const) {
      for (const flow of ['established', 'new'] as const) {
        const key = `${hook}${flow === 'new' ? 'New' : 'Established'}`;
        const n = flow === 'new' ? Math.min(cfg.samples, NEW_FLOWS) : cfg.samples;
        const fixed = frame(10_000 + round);
        const want: number[] = hook === 'xdp' ? [XDP.TX, XDP.REDIRECT] : [TC.REDIRECT];
        const per: Record<string, number[]> = {};
        for (const { name, env } of envs) {
          env.clearCt();
          per[name] = [];
          if (flow === 'established') {
            const r = xrun(env, hook, Buffer.from(fixed)); // creates the flow's entries
            if (!want.includes(r.retval)) throw new Error(`${name} ${key}: first packet verdict ${r.retval}`);
          }
        }
        for (let b = 0; b < n; b += cfg.block) {
          // Each block starts with the next variant: the first one after a switch of case or
          // frame pays for it (10-20 ns at repeat=1 here), so no variant may always be first.
          for (const { name, env } of rotate(envs, b / cfg.block)) {
            for (let i = b; i < Math.min(n, b + cfg.block); i++) {
              const data = flow === 'new' ? frame(1024 + ((round * NEW_FLOWS + i) % 60_000)) : Buffer.from(fixed);
              per[name].push(xrun(env, hook, data).durationNs);
            }
          }
        }
        out[key] = per;
      }
      // A SNAT flow's reply (backend -> node address:SNAT port), repeat=1 on a fresh frame: the
      // reservation lookup of the lean path (conntrack.h), then the rewrite back to the client.
      {
        const key = `${hook}SnatReply`;
        const want: number[] = hook === 'xdp' ? [XDP.TX, XDP.REDIRECT] : [TC.REDIRECT];
        const per: Record<string, number[]> = {};
        const replies = new Map<string, Buffer>();
        for (const { name, env } of envs) {
          env.clearCt();
          per[name] = [];
          const r = xrun(env, hook, frame(30_000 + round));
          const t = parse(r.data);
          if (!want.includes(r.retval) || !t.udp || !t.ip) continue; // no SNAT flow in this variant
          const reply = pkt().eth({ src: MAC.nodeB, dst: cfg.nodeMac }).ipv4({ src: t.ip.dst, dst: t.ip.src })
            .udp({ sport: t.udp.dport, dport: t.udp.sport }).payload(new Uint8Array(18)).build() as Buffer;
          const back = xrun(env, hook, Buffer.from(reply));
          if (!want.includes(back.retval) || parse(back.data).ip?.dst !== cfg.clientIp) throw new Error(`${name} ${key}: the reply was not translated back (verdict ${back.retval})`);
          replies.set(name, reply);
        }
        const ok = envs.filter(({ name }) => replies.has(name));
        for (let b = 0; b < cfg.samples; b += cfg.block) {
          for (const { name, env } of rotate(ok, b / cfg.block)) {
            for (let i = b; i < Math.min(cfg.samples, b + cfg.block); i++) per[name].push(xrun(env, hook, Buffer.from(replies.get(name)!)).durationNs);
          }
        }
        out[key] = per;
      }
      // Warm: repeat=200 over the mirror loop (progcost.inner.ts), where the variant can loop.
      const warmKey = `${hook}EstablishedWarm`;
      out[warmKey] = {};
      const first = frame(20_000, cfg.extIp, 80, 255);
      const ok: Array<{ name: string; env: NpEnv }> = [];
      for (const { name, env } of envs) {
        env.clearCt();
        out[warmKey][name] = [];
        try {
          const r = xrun(env, hook, Buffer.from(first));
          writeMirror(env, parse(first), parse(r.data));
          const p = parse(xrun(env, hook, Buffer.from(first), 2).data);
          if (p.ip?.dst === cfg.extIp && p.ip?.ttl === 253) ok.push({ name, env });
        } catch {
          // no loop in this variant (it keeps no state or rewrites no headers): no warm figure
        }
      }
      for (let i = 0; i < 100; i++) {
        for (const { name, env } of rotate(ok, i)) out[warmKey][name].push(xrun(env, hook, Buffer.from(first), WARM_REPEAT).durationNs);
      }
    }
    rounds.push(out);
  }
  process.stdout.write(`${JSON.stringify({ rounds })}\n`);
} finally {
  for (const l of links.reverse()) l.detach();
  for (const o of objs) o.close();
  for (const { env } of envs) env.close();
}
