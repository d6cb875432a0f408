// A long TCP conversation: one connection, one line every `everyMs` for `seconds`, each echoed by
// echo-server.ts. Prints one JSON summary line and exits 0 only when every line came back on the
// same connection, answered by the same backend (what "the connection survived" means).
//   usage: stream-client.ts <host> <port> <seconds> [everyMs=50]
import { connect } from 'node:net';

const [host, portText, secondsText, everyText = '50'] = process.argv.slice(2);
if (host === undefined || portText === undefined || secondsText === undefined) {
  console.error('usage: stream-client.ts <host> <port> <seconds> [everyMs]');
  process.exit(2);
}
const end = Date.now() + Number(secondsText) * 1000;
const every = Number(everyText);
let sent = 0;
let got = 0;
let buf = '';
const names = new Set<string>();
let maxGapMs = 0;
let lastReply = Date.now();
const sock = connect({ host, port: Number(portText) });
sock.setEncoding('utf8');
const finish = (ok: boolean, why: string) => {
  console.log(JSON.stringify({ ok, why, sent, got, backends: [...names], maxGapMs }));
  process.exit(ok ? 0 : 1);
};
sock.on('connect', () => {
  const timer = setInterval(() => {
    if (Date.now() >= end) {
      clearInterval(timer);
      // Give the last replies up to 5 s.
      setTimeout(() => finish(got === sent && names.size === 1, got === sent ? 'done' : `only ${got} of ${sent} replies`), 5_000).unref();
      const check = setInterval(() => {
        if (got === sent) {
          clearInterval(check);
          finish(names.size === 1, names.size === 1 ? 'done' : 'answered by more than one backend');
        }
      }, 20);
      return;
    }
    sock.write(`line-${sent++}\n`);
  }, every);
});
sock.on('data', (d: string) => {
  buf += d;
  let nl: number;
  while ((nl = buf.indexOf('\n')) >= 0) {
    names.add((JSON.parse(buf.slice(0, nl)) as { name: string }).name);
    buf = buf.slice(nl + 1);
    got++;
    const now = Date.now();
    maxGapMs = Math.max(maxGapMs, now - lastReply);
    lastReply = now;
  }
});
sock.on('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? err.message));
sock.on('close', () => finish(false, `closed after ${got} of ${sent} replies`));
