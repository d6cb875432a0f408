// The pod-side program's own per-packet cost (datapath/bpf/pod.bpf.c, --bpf-socket-lb=
// host-namespace-only) from BPF_PROG_TEST_RUN, taken like progcost.ts takes the north-south ones
// (measuring.md): each figure is the p50 of repeat=1 runs on a fresh 60-byte UDP frame, per round,
// and the result the median of the rounds (>= 3). Needs no cluster: it builds its own namespace
// (datapath/test/pod-env.ts) and runs podcost.inner.ts inside it.
//
//   node e2e/bench/podcost.ts [--json] [--samples N] [--rounds R]
//
// --json prints one object with podFloorP50Ns (a tc program that only returns TC_ACT_OK: the
// method's fixed part), podEstablishedRemoteP50Ns (a pod's packet of a tracked flow to a backend on
// another node: translated, handed to the stack), podEstablishedLocalP50Ns (... to a pod of this
// node: translated and redirected), podNewRemoteP50Ns and podNewLocalP50Ns (first packets: service
// lookup, selection, both entries; the local one adds the FIB lookup), podReplyEgressP50Ns (a remote
// backend's reply at the pod's egress) and podUntrackedP50Ns (a pod's packet to no service: what
// every other packet of a pod pays), with the per-round figures and the load average.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { run } from '../cluster/run.ts';
import { createPodTopology, POD_OBJ } from '../../datapath/test/pod-env.ts';
import { quantile } from './stats.ts';

type Key = 'floor' | 'establishedRemote' | 'establishedLocal' | 'newRemote' | 'newLocal' | 'replyEgress' | 'untracked';
const KEYS: Key[] = ['floor', 'establishedRemote', 'establishedLocal', 'newRemote', 'newLocal', 'replyEgress', 'untracked'];
const field = (k: Key) => `pod${k[0].toUpperCase()}${k.slice(1)}P50Ns`;
const median = (xs: number[]): number => quantile(xs, 0.5);

export async function measurePodCost(o: { samples: number; rounds: number; outDir: string }): Promise<Record<string, unknown>> {
  if (!existsSync(POD_OBJ)) return { status: 'not run', reason: `${POD_OBJ} not built (make build)` };
  if (process.getuid?.() !== 0) return { status: 'not run', reason: 'needs root (namespaces, BPF)' };
  const passObj = join(o.outDir, 'tc-pass.bpf.o');
  await run(['clang', '-O2', '-target', 'bpf', '-c', join(import.meta.dirname, 'tc-pass.bpf.c'), '-o', passObj]);
  const load0 = loadavg()[0];
  const topo = createPodTopology('podcost');
  try {
    topo.ns.ip('link', 'add', 'spare0', 'type', 'veth', 'peer', 'name', 'spare1');
    const spare = topo.ns.ifindex('spare0');
    const inner = join(import.meta.dirname, 'podcost.inner.ts');
    const r = await run(['ip', 'netns', 'exec', topo.ns.name, 'sh', '-c', 'mount -t bpf bpf /sys/fs/bpf && exec "$@"', 'sh',
      process.execPath, inner, String(topo.vp1), String(topo.vp2), String(spare), String(o.samples), String(o.rounds), passObj], { timeoutMs: 900_000, allowFailure: true });
    if (r.code !== 0) return { status: 'not run', reason: `test-run helper failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}` };
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { rounds: Record<Key, { ns: number[]; verdicts: Record<string, number> }>[] };
    const perRound = j.rounds.map((x) => Object.fromEntries(KEYS.map((k) => [field(k), median(x[k].ns)])));
    const figures = Object.fromEntries(KEYS.map((k) => [field(k), median(perRound.map((x) => x[field(k)]!))]));
    const verdicts = Object.fromEntries(KEYS.map((k) => [k, j.rounds[0]![k].verdicts]));
    return { status: 'ok', samples: o.samples, rounds: o.rounds, ...figures, perRound, verdicts, loadavg: [load0, loadavg()[0]] };
  } finally {
    topo.ns.remove();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, samples: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '3' } } });
  const outDir = mkdtempSync(join(tmpdir(), 'kpb-podcost-'));
  try {
    const r = await measurePodCost({ samples: Number(values.samples), rounds: Math.max(3, Number(values.rounds)), outDir });
    process.stdout.write(`${values.json ? JSON.stringify(r) : JSON.stringify(r, null, 2)}\n`);
    if (r.status !== 'ok') process.exitCode = 1;
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}
