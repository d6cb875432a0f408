// A long conversation: one TCP connection (or one connected UDP socket), one line every `everyMs`
// for `seconds`, each echoed by echo-server.ts. Prints one JSON summary line and exits 0 only
// when every line came back, answered by one backend (what "the conversation survived" means).
// For UDP through the socket LB the replies are only accepted while the reverse translation
// (lb_sock_rev_nat) still maps the backend back to the service address.
//   usage: stream-client.ts <tcp|udp> <host> <port> <seconds> [everyMs=50]
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';

const [proto, host, portText, secondsText, everyText = '50'] = process.argv.slice(2);
if ((proto !== 'tcp' && proto !== 'udp') || host === undefined || portText === undefined || secondsText === undefined) {
  console.error('usage: stream-client.ts <tcp|udp> <host> <port> <seconds> [everyMs]');
  process.exit(2);
}
const port = Number(portText);
const end = Date.now() + Number(secondsText) * 1000;
const every = Number(everyText);
let sent = 0;
let got = 0;
const names = new Set<string>();
let maxGapMs = 0;
let lastReply = Date.now();

const finish = (ok: boolean, why: string): never => {
  console.log(JSON.stringify({ ok, why, proto, sent, got, backends: [...names], maxGapMs }));
  process.exit(ok ? 0 : 1);
};
const onReply = (line: string): void => {
  names.add((JSON.parse(line) as { name: string }).name);
  got++;
  const now = Date.now();
  maxGapMs = Math.max(maxGapMs, now - lastReply);
  lastReply = now;
};
/** Sends until the end, then waits up to 5 s for the last replies. */
const drive = (send: (line: string) => void): void => {
  const timer = setInterval(() => {
    if (Date.now() < end) {
      send(`line-${sent++}\n`);
      return;
    }
    clearInterval(timer);
    setTimeout(() => finish(false, `only ${got} of ${sent} replies`), 5_000).unref();
    const check = setInterval(() => {
      if (got < sent) return;
      clearInterval(check);
      finish(names.size === 1, names.size === 1 ? 'done' : 'answered by more than one backend');
    }, 20);
  }, every);
};

if (proto === 'tcp') {
  const sock = connect({ host, port });
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('connect', () => drive((line) => sock.write(line)));
  sock.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onReply(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  sock.on('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? err.message));
  sock.on('close', () => finish(false, `closed after ${got} of ${sent} replies`));
} else {
  const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  sock.on('message', (data) => onReply(data.toString('utf8').trimEnd()));
  sock.on('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? err.message));
  sock.connect(port, host, (...args: unknown[]) => {
    const err = args[0] as NodeJS.ErrnoException | undefined;
    if (err) finish(false, err.code ?? err.message);
    drive((line) => sock.send(line));
  });
}
