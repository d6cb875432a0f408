// Sends `count` messages to an echo server and prints each JSON reply on its own line.
// Exits 1 with the reason on stderr when a reply does not come within the timeout, so a caller
// can tell "refused", "reset" and "timed out" apart.
//   usage: echo-client.ts <tcp|udp> <host> <port> [count=1] [timeoutMs=3000]
import { connect, isIPv6 } from 'node:net';
import { createSocket } from 'node:dgram';

const [proto, host, portText, countText = '1', timeoutText = '3000'] = process.argv.slice(2);
if ((proto !== 'tcp' && proto !== 'udp') || host === undefined || portText === undefined) {
  console.error('usage: echo-client.ts <tcp|udp> <host> <port> [count] [timeoutMs]');
  process.exit(2);
}
const port = Number(portText);
const count = Number(countText);
const timeoutMs = Number(timeoutText);

function fail(why: string): never {
  console.error(`${proto} ${host} port ${port}: ${why}`);
  process.exit(1);
}
const timer = setTimeout(() => fail(`no reply within ${timeoutMs} ms`), timeoutMs);

if (proto === 'tcp') {
  const sock = connect({ host, port });
  let buf = '';
  let got = 0;
  sock.setEncoding('utf8');
  sock.on('connect', () => {
    for (let i = 0; i < count; i++) sock.write(`msg-${i}\n`);
  });
  sock.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      console.log(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if (++got === count) {
        clearTimeout(timer);
        sock.end();
      }
    }
  });
  sock.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
  sock.on('close', () => {
    if (got < count) fail(`closed after ${got} of ${count} replies`);
  });
} else {
  const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  let got = 0;
  sock.on('message', (data) => {
    console.log(data.toString('utf8').trimEnd());
    if (++got === count) {
      clearTimeout(timer);
      sock.close();
    }
  });
  sock.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
  // A connected socket, like most real UDP clients: the socket-level LB translates at connect().
  // A refused connect() (socket LB: no endpoints) reaches this callback as its argument, not as 'error'.
  sock.connect(port, host, (...args: unknown[]) => {
    const err = args[0] as NodeJS.ErrnoException | undefined;
    if (err) fail(err.code ?? err.message);
    for (let i = 0; i < count; i++) sock.send(`msg-${i}`);
  });
}
