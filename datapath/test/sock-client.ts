// Client for the socket-LB tests: one process runs a whole batch of jobs (read as JSON from stdin)
// and prints one JSON array of results, so a thousand connections cost one Node start, not a
// thousand. The harness starts it inside the test cgroup and network namespace, where the socket-LB
// programs translate its connect/sendmsg/recvmsg/getpeername/bind calls.
import { connect, createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { text } from 'node:stream/consumers';

export type Job =
  | { op: 'tcp'; host: string; port: number; n?: number }
  | { op: 'udp'; host: string; port: number; type: 'udp4' | 'udp6'; sockets?: number; datagrams?: number; connected?: boolean }
  | { op: 'bind'; proto: 'tcp' | 'udp'; host: string; port: number };

/** answer: the backend's "ip port"; peer: getpeername() (TCP, connected UDP) or recvfrom()'s
 * source (unconnected UDP) as "ip port"; error: the errno code name. */
export interface Outcome { answer?: string; peer?: string; error?: string; socket?: number }

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
        await new Promise<void>((resolve, reject) => {
          sock.once('error', reject);
          sock.connect(job.port, job.host, () => { sock.off('error', reject); resolve(); });
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

const jobs = JSON.parse(await text(process.stdin)) as Job[];
const out: Outcome[][] = [];
for (const job of jobs) {
  if (job.op === 'tcp') out.push(await tcp(job));
  else if (job.op === 'udp') out.push(await udp(job));
  else out.push(await bind(job));
}
process.stdout.write(JSON.stringify(out));
