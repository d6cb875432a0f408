// Shared steps of the scenario tests: start our agent on both nodes and wait until it serves,
// poll for a condition with a bound, and read a node's pinned LB maps raw (the test process is in
// the root namespace, where the node's pin folder is visible).
import { openPinnedMap } from 'bpf-loader-napi';
import { isIPv4 } from 'node:net';
import type { Cluster, ClusterNode } from '../cluster/cluster.ts';
import { startAgent, type AgentOptions } from '../cluster/agent.ts';
import type { Proc } from '../cluster/proc.ts';
import { waitForHttp } from '../cluster/workload.ts';

/** Starts the agent on `node` and resolves once its :10256/healthz answers 200 and it synced. */
export async function startReadyAgent(node: ClusterNode, args: readonly string[] = [], opts: AgentOptions = {}): Promise<Proc> {
  const agent = startAgent(node, args, opts);
  await agent.waitFor(/"Sync done" mode="full" ok=true/, 60_000);
  await waitForHttp(node.place, 'http://127.0.0.1:10256/healthz', 30_000);
  return agent;
}

/** Agents on node-a and node-b, with `--v=2` so sync lines show up in the logs. */
export async function startAgents(cluster: Cluster, args: readonly string[] = []): Promise<Record<'node-a' | 'node-b', Proc>> {
  const [a, b] = await Promise.all([
    startReadyAgent(cluster.nodes['node-a'], ['--v=2', ...args]),
    startReadyAgent(cluster.nodes['node-b'], ['--v=2', ...args]),
  ]);
  return { 'node-a': a, 'node-b': b };
}

/**
 * Calls `fn` until it returns without throwing, at most until `timeoutMs`; returns its result and
 * the time it took. The last error is rethrown with the description.
 */
export async function eventually<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 10_000, everyMs = 100): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  let last: unknown;
  for (let i = 0; Date.now() - start < timeoutMs && i < 100_000; i++) {
    try {
      return { value: await fn(), ms: Date.now() - start };
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${what}: not true within ${timeoutMs} ms; last error: ${(last as Error)?.message ?? String(last)}`);
}

/** 16-byte map form of an address (IPv4 v4-mapped), as lb_structs.h stores it. */
export function addr16(ip: string): Buffer {
  const b = Buffer.alloc(16);
  if (isIPv4(ip)) {
    b[10] = 0xff;
    b[11] = 0xff;
    ip.split('.').forEach((o, i) => (b[12 + i] = Number(o)));
    return b;
  }
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

/** Raw [key, value] entries of a node's pinned map. */
export function pinnedEntries(node: ClusterNode, map: string): [Buffer, Buffer][] {
  const m = openPinnedMap(`${node.pinPath}/${map}`);
  try {
    return [...m.entries({ raw: true })] as [Buffer, Buffer][];
  } finally {
    m.close();
  }
}

/** lb_services keys of `node` whose address is `ip` (any port, protocol and scope). */
export function serviceEntriesFor(node: ClusterNode, ip: string): Buffer[] {
  const want = addr16(ip);
  return pinnedEntries(node, 'lb_services').map(([k]) => k).filter((k) => k.subarray(0, 16).equals(want));
}

/** Sleeps `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
