// The test workload: answers every TCP line and every UDP datagram with one JSON line naming
// this server and the peer address it saw, so tests can tell which backend answered and whether
// the source was translated. Separate v4 and v6 sockets keep v4 peers as plain dotted quads
// (a dual-stack socket would report ::ffff:a.b.c.d).
//   usage: echo-server.ts <name> <port> [<port>...]
import { createServer, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';

const [name, ...portArgs] = process.argv.slice(2);
if (name === undefined || portArgs.length === 0) {
  console.error('usage: echo-server.ts <name> <port>...');
  process.exit(2);
}

function reply(proto: string, peer: string, peerPort: number, local: string, localPort: number, msg: string): string {
  return JSON.stringify({ name, proto, peer, peerPort, local, localPort, msg }) + '\n';
}

const closers: Array<() => void> = [];
const waits: Array<Promise<void>> = [];
for (const port of portArgs.map(Number)) {
  for (const [host, udpType] of [['0.0.0.0', 'udp4'], ['::', 'udp6']] as const) {
    const tcp = createServer((sock: Socket) => {
      let buf = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const msg = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          sock.write(reply('tcp', sock.remoteAddress ?? '', sock.remotePort ?? 0, sock.localAddress ?? '', sock.localPort ?? 0, msg));
        }
      });
      sock.on('error', () => sock.destroy());
    });
    waits.push(new Promise((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ host, port, ipv6Only: host === '::' }, () => resolve());
    }));
    closers.push(() => tcp.close());
    const udp = createSocket({ type: udpType, ipv6Only: udpType === 'udp6' });
    udp.on('message', (data, rinfo) => {
      const local = udp.address();
      udp.send(reply('udp', rinfo.address, rinfo.port, local.address, local.port, data.toString('utf8').trimEnd()), rinfo.port, rinfo.address);
    });
    waits.push(new Promise((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, host, () => resolve());
    }));
    closers.push(() => udp.close());
  }
}
Promise.all(waits).then(
  () => console.log(`echo-server ${name} ready on ${portArgs.join(',')}`),
  (err: Error) => {
    console.error(`echo-server ${name}: cannot listen: ${err.message}`);
    process.exit(1);
  },
);
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    for (const c of closers) c();
    process.exit(0);
  });
}
