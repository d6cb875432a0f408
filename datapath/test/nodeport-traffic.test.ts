// Real traffic through the north-south datapath: an external client reaches NodePorts of node-a,
// whose fabric device runs our XDP (native) and tc programs; backends are a pod on node-b
// (remote: SNAT or DSR, node-b running our tc to decapsulate) and a pod on node-a (local: DNAT).
// Each case asserts that the client got the
// echo and which source address the backend saw. np-traffic-topology.ts has the address plan.
// The BPF side runs inside node-a's namespace (nodeport-traffic.inner.ts) so attach, FIB and pins
// are node-a's own. Needs root; fails loudly without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { runInner } from './inner-run.ts';
import { once } from 'node:events';
import { createTrafficTopology } from './np-traffic-topology.ts';
import { XDP_OBJ, TC_OBJ } from './np-env.ts';

const ECHO = new URL('./np-echo.ts', import.meta.url).pathname;
const XDP_PEER = new URL('./np-xdp-peer.ts', import.meta.url).pathname;
const DSR_NODE = new URL('./np-dsr-backend-node.ts', import.meta.url).pathname;

/** Start a helper that prints "ready" once attached and keeps running until its stdin closes. */
async function startHelper(ns: string, argv: string[], bpffs = false): Promise<ChildProcess & { output: () => string }> {
  const cmd = bpffs ? ['sh', '-c', 'mount -t bpf bpf /sys/fs/bpf && exec "$@"', 'sh', process.execPath, ...argv] : [process.execPath, ...argv];
  const p = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['pipe', 'pipe', 'inherit'] });
  const dev = argv.join(' ');
  let out = '';
  p.stdout!.on('data', (d) => { out += d; });
  const deadline = Date.now() + 20_000;
  while (!out.includes('ready')) {
    if (p.exitCode !== null || Date.now() > deadline) throw new Error(`helper "${dev}" in ${ns} did not get ready: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Object.assign(p, { output: () => out });
}

async function startEcho(ns: string): Promise<ChildProcess> {
  const p = spawn('ip', ['netns', 'exec', ns, process.execPath, ECHO, 'server', '8080', '5353'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout!.on('data', (d) => { out += d; });
  const deadline = Date.now() + 10_000;
  while (!(out.includes('tcp-ready') && out.includes('udp-ready'))) {
    if (p.exitCode !== null || Date.now() > deadline) throw new Error(`echo server in ${ns} did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return p;
}

test('NodePort traffic through XDP and tc reaches local and remote backends and comes back', async () => {
  assert.equal(process.getuid?.(), 0, 'the traffic test needs root (namespaces, BPF)');
  for (const f of [XDP_OBJ, TC_OBJ]) assert.ok(existsSync(f), `missing ${f}: run "make bpf"`);
  const topo = createTrafficTopology();
  const servers: ChildProcess[] = [];
  try {
    servers.push(await startEcho(topo.podA.name), await startEcho(topo.podB.name));
    // XDP on the bridge side of node-a's veth (see np-traffic-topology.ts); node-b's tc for DSR.
    servers.push(await startHelper(topo.fabric.name, [XDP_PEER, 'fa']));
    const nodeB = await startHelper(topo.nodeB.name, [DSR_NODE, 'b0'], true);
    servers.push(nodeB);
    runInner({
      ns: topo.nodeA.name, inner: new URL('./nodeport-traffic.inner.ts', import.meta.url), what: 'traffic cases',
      env: { KPB_NETNS: topo.nodeA.name, KPB_CLIENT_NS: topo.client.name, KPB_NODEB_NS: topo.nodeB.name, KPB_ECHO: ECHO },
    });
    nodeB.stdin!.end();
    await Promise.race([once(nodeB, 'exit'), new Promise((res) => setTimeout(res, 5000))]);
    const counters = JSON.parse(nodeB.output().split('\n').filter(Boolean).at(-1) ?? '{}') as { ingress?: Record<string, number>; egress?: Record<string, number> };
    assert.ok((counters.ingress?.DSR_DECAP ?? 0) > 0, `node-b decapsulated DSR packets: ${JSON.stringify(counters)}`);
    assert.ok((counters.egress?.DSR_REPLY ?? 0) > 0, `node-b gave replies the frontend as source: ${JSON.stringify(counters)}`);
  } finally {
    for (const s of servers) {
      s.stdin?.end();
      s.kill('SIGTERM');
      if (s.exitCode === null) await Promise.race([once(s, 'exit'), new Promise((r) => setTimeout(r, 2000))]);
    }
    topo.remove();
  }
});
