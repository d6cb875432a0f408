// One exchange with an echo-server.ts Service, reporting what the client's own socket says about
// it: getsockname (local) and getpeername (peer) of a connected TCP or UDP socket, next to the
// server's reply (which names the server and the peer it saw). Prints one JSON line; exits 1 with
// the reason on stderr when no reply comes within the timeout.
//   usage: peer-probe.ts <tcp|udp> <host> <port> [timeoutMs=3000]
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';

const [proto, host, portText, timeoutText = '3000'] = process.argv.slice(2);
if ((proto !== 'tcp' && proto !== 'udp') || host === undefined || portText === undefined) {
  console.error('usage: peer-probe.ts <tcp|udp> <host> <port> [timeoutMs]');
  process.exit(2);
}
const port = Number(portText);
const fail = (why: string): never => {
  console.error(`${proto} ${host} port ${port}: ${why}`);
  process.exit(1);
};
const timer = setTimeout(() => fail(`no reply within ${timeoutText} ms`), Number(timeoutText));
const done = (local: { address?: string; port?: number }, peer: { address?: string; port?: number }, reply: string): void => {
  clearTimeout(timer);
  console.log(JSON.stringify({ local: local.address, localPort: local.port, peer: peer.address, peerPort: peer.port, reply: JSON.parse(reply) }));
};

if (proto === 'tcp') {
  const sock = connect({ host, port });
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('connect', () => sock.write('probe\n'));
  sock.on('data', (d: string) => {
    buf += d;
    const nl = buf.indexOf('\n');
    if (nl < 0) return;
    done({ address: sock.localAddress, port: sock.localPort }, { address: sock.remoteAddress, port: sock.remotePort }, buf.slice(0, nl));
    sock.end();
  });
  sock.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
} else {
  const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  sock.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
  sock.on('message', (d) => {
    done(sock.address(), sock.remoteAddress(), d.toString('utf8').trimEnd());
    sock.close();
  });
  sock.connect(port, host, (...args: unknown[]) => {
    const err = args[0] as NodeJS.ErrnoException | undefined;
    if (err) fail(err.code ?? err.message);
    sock.send('probe');
  });
}
