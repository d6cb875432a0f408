// Test workloads: echo servers in pods (or on a node's host network) and the matching client.
// Both are plain node scripts run with the same Node binary as the test, placed in a namespace
// and a cgroup like any process on that node, so the node's socket programs see them.
import { join } from 'node:path';
import { Proc, runIn, type Placement } from './proc.ts';
import type { Teardown } from './teardown.ts';

const BIN = join(import.meta.dirname, 'bin');

/** One answer of the echo server: who answered and which peer it saw. */
export interface EchoReply {
  name: string;
  proto: 'tcp' | 'udp';
  peer: string;
  peerPort: number;
  local: string;
  localPort: number;
  msg: string;
}

/** Starts bin/echo-server.ts answering as `name` on TCP and UDP, IPv4 and IPv6, on each port. */
export async function startEchoServer(place: Placement, name: string, ports: readonly number[], teardown: Teardown): Promise<Proc> {
  const proc = new Proc(place, [process.execPath, join(BIN, 'echo-server.ts'), name, ...ports.map(String)], { name: `echo server ${name}` });
  teardown.add(`echo server ${name}`, () => proc.stop(), () => proc.kill());
  await proc.waitFor(/ready on/, 15_000);
  return proc;
}

export interface EchoOptions {
  /** Messages sent on one connection (TCP) or connected socket (UDP); default 1. */
  count?: number;
  /** Milliseconds to wait for all replies; default 3000. */
  timeoutMs?: number;
}

/** Sends to an echo server from `place`; rejects with the client's reason when no reply comes. */
export async function echo(place: Placement, proto: 'tcp' | 'udp', host: string, port: number, opts: EchoOptions = {}): Promise<EchoReply[]> {
  const timeoutMs = opts.timeoutMs ?? 3_000;
  const res = await runIn(place,
    [process.execPath, join(BIN, 'echo-client.ts'), proto, host, String(port), String(opts.count ?? 1), String(timeoutMs)],
    { timeoutMs: timeoutMs + 10_000, allowFailure: true });
  if (res.code !== 0) throw new Error(`echo from ${place.netns}: ${res.stderr.trim() || `exit ${res.code}`}`);
  return res.stdout.trim().split('\n').map((l) => JSON.parse(l) as EchoReply);
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * GET `url` with curl from inside `place` (how tests read an agent's :10256/:10249 from its own
 * node). TLS is not verified: this is for plain health endpoints. Status 0 means no answer.
 */
export async function httpGet(place: Placement, url: string, timeoutMs = 2_000): Promise<HttpAnswer> {
  const res = await runIn(place,
    ['curl', '-sS', '-k', '--max-time', String(timeoutMs / 1000), '-w', '\n%{http_code}', url],
    { timeoutMs: timeoutMs + 5_000, allowFailure: true });
  const cut = res.stdout.lastIndexOf('\n');
  return { status: Number(res.stdout.slice(cut + 1)) || 0, body: res.stdout.slice(0, Math.max(cut, 0)) };
}

/** Polls `url` from `place` until it answers 200; rejects naming the last answer after the timeout. */
export async function waitForHttp(place: Placement, url: string, timeoutMs: number): Promise<HttpAnswer> {
  const deadline = Date.now() + timeoutMs;
  let last: HttpAnswer = { status: 0, body: '' };
  while (Date.now() < deadline) {
    last = await httpGet(place, url);
    if (last.status === 200) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} from ${place.netns}: no 200 within ${timeoutMs} ms (last: ${last.status} ${last.body.slice(0, 200)})`);
}
