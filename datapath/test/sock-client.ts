// Client for the socket-LB tests: one process runs a whole batch of jobs (the first stdin line, JSON)
// and prints the results as one JSON line, so a thousand connections cost one Node start, not a
// thousand. A 'pause' job prints a "pause" line and waits for any line on stdin, so the test can
// change the maps while sockets are held open. The harness starts it inside the test cgroup and
// network namespace, where the socket-LB programs translate its connect/sendmsg/recvmsg/
// getpeername/bind calls.
import { connect, createServer, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import type { Socket as UdpSocket } from 'node:dgram';

export type Job =
  | { op: 'tcp'; host: string; port: number; n?: number }
  | { op: 'udp'; host: string; port: number; type: 'udp4' | 'udp6'; sockets?: number; datagrams?: number; connected?: boolean }
  | { op: 'bind'; proto: 'tcp' | 'udp'; host: string; port: number }
  /** Connect UDP sockets and keep them; result: getpeername of each. */
  | { op: 'udp-hold'; host: string; port: number; type: 'udp4' | 'udp6'; sockets: number }
  /** For every held socket: getpeername now, then one request and the reply's source. */
  | { op: 'udp-held' }
  /** Connect TCP sockets to a `hold` listener and keep them; result: the first line and getpeername. */
  | { op: 'tcp-hold'; host: string; port: number; sockets: number }
  /** Every held socket (UDP first, then TCP), watched for `ms`: error is the first error it got (in
   * `ms`: milliseconds after the watch began), answer 'alive' when none came. A UDP socket is then
   * sent one datagram, whose outcome is `from` ('sent' or the errno code). */
  | { op: 'held-watch'; ms: number }
  | { op: 'pause' };

/** answer: the backend's "ip port"; peer: getpeername() (TCP, connected UDP) or recvfrom()'s
 * source (unconnected UDP) as "ip port"; error: the errno code name. */
export interface Outcome { answer?: string; peer?: string; from?: string; error?: string; socket?: number; ms?: number }

const TIMEOUT_MS = 3000;
const CONCURRENCY = 16;

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}

function tcpOnce(host: string, port: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = {};
    let data = '';
    const sock = connect({ host, port });
    const timer = setTimeout(() => { sock.destroy(); resolve({ ...out, error: 'TIMEOUT' }); }, TIMEOUT_MS);
    sock.on('connect', () => { out.peer = `${sock.remoteAddress} ${sock.remotePort}`; });
    sock.on('data', (d) => { data += d.toString(); });
    sock.on('end', () => { clearTimeout(timer); sock.destroy(); resolve({ ...out, answer: data }); });
    sock.on('error', (err) => { clearTimeout(timer); resolve({ ...out, error: errCode(err) }); });
  });
}

async function tcp(job: Extract<Job, { op: 'tcp' }>): Promise<Outcome[]> {
  const n = job.n ?? 1;
  const results: Outcome[] = new Array(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      results[i] = await tcpOnce(job.host, job.port);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n) }, worker));
  return results;
}

async function udp(job: Extract<Job, { op: 'udp' }>): Promise<Outcome[]> {
  const results: Outcome[] = [];
  for (let s = 0; s < (job.sockets ?? 1); s++) {
    const sock = createSocket(job.type);
    const replies: { msg: string; from: string }[] = [];
    let wake: (() => void) | undefined;
    sock.on('message', (msg, rinfo) => { replies.push({ msg: msg.toString(), from: `${rinfo.address} ${rinfo.port}` }); wake?.(); });
    sock.on('error', () => { /* surfaced through the send callback */ });
    let peer: string | undefined;
    try {
      if (job.connected) {
        // A refused connect() reaches the callback as its argument, not as an 'error' event.
        await new Promise<void>((resolve, reject) => {
          sock.connect(job.port, job.host, (...args: unknown[]) => {
            const err = args[0] as Error | undefined;
            if (err) reject(err);
            else resolve();
          });
        });
        const r = sock.remoteAddress();
        peer = `${r.address} ${r.port}`;
      }
      for (let d = 0; d < (job.datagrams ?? 1); d++) {
        const got = new Promise<void>((resolve) => { wake = resolve; });
        await new Promise<void>((resolve, reject) => {
          const cb = (err: Error | null): void => (err ? reject(err) : resolve());
          if (job.connected) sock.send('q', cb);
          else sock.send('q', job.port, job.host, cb);
        });
        let t: NodeJS.Timeout | undefined;
        const timer = new Promise<void>((resolve) => { t = setTimeout(resolve, TIMEOUT_MS); });
        await Promise.race([got, timer]);
        clearTimeout(t);
        const reply = replies.shift();
        if (!reply) results.push({ socket: s, error: 'TIMEOUT' });
        else results.push({ socket: s, answer: reply.msg, peer: peer ?? reply.from });
      }
    } catch (err) {
      results.push({ socket: s, error: errCode(err) });
    } finally {
      sock.close();
    }
  }
  return results;
}

function bind(job: Extract<Job, { op: 'bind' }>): Promise<Outcome[]> {
  return new Promise((resolve) => {
    if (job.proto === 'tcp') {
      const srv = createServer();
      srv.once('error', (err) => resolve([{ error: errCode(err) }]));
      srv.listen({ host: job.host, port: job.port }, () => srv.close(() => resolve([{ answer: 'bound' }])));
    } else {
      const sock = createSocket(job.host.includes(':') ? 'udp6' : 'udp4');
      sock.once('error', (err) => { sock.close(); resolve([{ error: errCode(err) }]); });
      sock.bind(job.port, job.host, () => sock.close(() => resolve([{ answer: 'bound' }])));
    }
  });
}

const held: UdpSocket[] = [];
const heldTcp: Socket[] = [];
/** The first error each held socket reported, and when. */
const heldErrors = new Map<UdpSocket | Socket, { code: string; at: number }>();
const noteError = (s: UdpSocket | Socket) => (err: unknown): void => {
  if (!heldErrors.has(s)) heldErrors.set(s, { code: errCode(err), at: Date.now() });
};

async function udpHold(job: Extract<Job, { op: 'udp-hold' }>): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (let s = 0; s < job.sockets; s++) {
    const sock = createSocket(job.type);
    try {
      await new Promise<void>((resolve, reject) => {
        sock.connect(job.port, job.host, (...args: unknown[]) => {
          const err = args[0] as Error | undefined;
          if (err) reject(err);
          else resolve();
        });
      });
    } catch (err) {
      sock.close();
      out.push({ socket: s, error: errCode(err) });
      continue;
    }
    held.push(sock);
    sock.on('error', noteError(sock));
    const r = sock.remoteAddress(); // dgram does not cache it: every call is a getpeername()
    out.push({ socket: s, peer: `${r.address} ${r.port}` });
  }
  return out;
}

async function udpHeld(): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const [s, sock] of held.entries()) {
    const r = sock.remoteAddress();
    const reply = new Promise<Outcome>((resolve) => {
      const t = setTimeout(() => resolve({ error: 'TIMEOUT' }), TIMEOUT_MS);
      sock.once('message', (msg, rinfo) => { clearTimeout(t); resolve({ answer: msg.toString(), from: `${rinfo.address} ${rinfo.port}` }); });
    });
    sock.send('q');
    out.push({ socket: s, peer: `${r.address} ${r.port}`, ...(await reply) });
  }
  return out;
}

async function tcpHold(job: Extract<Job, { op: 'tcp-hold' }>): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (let s = 0; s < job.sockets; s++) {
    const sock = connect({ host: job.host, port: job.port });
    const o = await new Promise<Outcome>((resolve) => {
      const t = setTimeout(() => resolve({ socket: s, error: 'TIMEOUT' }), TIMEOUT_MS);
      let line = '';
      sock.once('error', (err) => { clearTimeout(t); resolve({ socket: s, error: errCode(err) }); });
      sock.on('data', function first(d) {
        line += d.toString();
        if (!line.includes('\n')) return;
        sock.off('data', first);
        clearTimeout(t);
        resolve({ socket: s, answer: line.trim(), peer: `${sock.remoteAddress} ${sock.remotePort}` });
      });
    });
    out.push(o);
    if (o.error) {
      sock.destroy();
      continue;
    }
    heldTcp.push(sock);
    sock.on('error', noteError(sock));
  }
  return out;
}

async function heldWatch(job: Extract<Job, { op: 'held-watch' }>): Promise<Outcome[]> {
  const start = Date.now();
  const all = [...held, ...heldTcp];
  while (Date.now() - start < job.ms && all.some((s) => !heldErrors.has(s))) await new Promise((r) => setTimeout(r, 10));
  const out: Outcome[] = [];
  for (const [i, s] of all.entries()) {
    const e = heldErrors.get(s);
    const o: Outcome = { socket: i, ...(e ? { error: e.code, ms: Math.max(0, e.at - start) } : { answer: 'alive' }) };
    if (i < held.length) {
      o.from = await new Promise<string>((resolve) => {
        try {
          (s as UdpSocket).send('q', (err) => resolve(err ? errCode(err) : 'sent'));
        } catch (err) {
          resolve(errCode(err));
        }
      });
    }
    out.push(o);
  }
  return out;
}

const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const nextLine = async (): Promise<string> => {
  const r = await input.next();
  if (r.done) throw new Error('stdin closed before the expected line');
  return r.value;
};

const jobs = JSON.parse(await nextLine()) as Job[];
const out: Outcome[][] = [];
for (const job of jobs) {
  if (job.op === 'tcp') out.push(await tcp(job));
  else if (job.op === 'udp') out.push(await udp(job));
  else if (job.op === 'bind') out.push(await bind(job));
  else if (job.op === 'udp-hold') out.push(await udpHold(job));
  else if (job.op === 'udp-held') out.push(await udpHeld());
  else if (job.op === 'tcp-hold') out.push(await tcpHold(job));
  else if (job.op === 'held-watch') out.push(await heldWatch(job));
  else {
    process.stdout.write('pause\n');
    await nextLine();
    out.push([]);
  }
}
for (const sock of held) sock.close();
for (const sock of heldTcp) sock.destroy();
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0); // stdin stays open (line reader); nothing else is pending
