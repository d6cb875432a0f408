// Small helpers over `ip` inside a named network namespace: interface counters and MAC addresses.
import { run } from '../cluster/run.ts';

export interface LinkCounters {
  rxPackets: number;
  txPackets: number;
  rxDropped: number;
  txDropped: number;
}

interface IpLinkJson {
  ifname: string;
  address: string;
  ifindex: number;
  stats64?: { rx: { packets: number; dropped: number }; tx: { packets: number; dropped: number } };
}

async function link(netns: string, dev: string, stats: boolean): Promise<IpLinkJson> {
  const r = await run(['ip', '-n', netns, '-j', ...(stats ? ['-s'] : []), 'link', 'show', 'dev', dev]);
  const j = JSON.parse(r.stdout) as IpLinkJson[];
  if (!j[0]) throw new Error(`no device ${dev} in ${netns}`);
  return j[0];
}

export async function counters(netns: string, dev: string): Promise<LinkCounters> {
  const s = (await link(netns, dev, true)).stats64;
  if (!s) throw new Error(`no stats64 for ${dev} in ${netns}`);
  return { rxPackets: s.rx.packets, txPackets: s.tx.packets, rxDropped: s.rx.dropped, txDropped: s.tx.dropped };
}

export async function macOf(netns: string, dev: string): Promise<string> {
  return (await link(netns, dev, false)).address;
}

export async function ifindexOf(netns: string, dev: string): Promise<number> {
  return (await link(netns, dev, false)).ifindex;
}

export async function nsExec(netns: string, argv: readonly string[], timeoutMs = 30_000): Promise<string> {
  return (await run(['ip', 'netns', 'exec', netns, ...argv], { timeoutMs })).stdout;
}

/** GET http://127.0.0.1:<port>/metrics from inside `netns` (where both proxies serve metrics). */
export async function scrapeMetrics(netns: string, port = 10249): Promise<string> {
  const r = await run(['ip', 'netns', 'exec', netns, 'curl', '-sf', '--max-time', '5', `http://127.0.0.1:${port}/metrics`], { timeoutMs: 10_000 });
  return r.stdout;
}

/**
 * Resolves `ip`'s neighbour entry in `netns` by sending it one UDP datagram (this machine has no
 * ping), then waits until the entry is valid. XDP forwards only with a resolved neighbour.
 */
export async function warmNeighbour(netns: string, ip: string): Promise<void> {
  const send = `const s=require('dgram').createSocket('udp4');s.send('x',9,${JSON.stringify(ip)},()=>s.close())`;
  for (let i = 0; i < 20; i++) {
    await run(['ip', 'netns', 'exec', netns, process.execPath, '-e', send], { allowFailure: true });
    await new Promise((r) => setTimeout(r, 100));
    const n = await run(['ip', '-n', netns, 'neigh', 'show', ip]);
    if (/REACHABLE|STALE|DELAY|PERMANENT/.test(n.stdout)) return;
  }
  throw new Error(`no neighbour entry for ${ip} in ${netns}`);
}
