// Backend servers for the socket-LB tests, run as one child inside the test's network namespace
// (outside the test cgroup, so no socket-LB program sees them). argv[2] is a JSON list of
// {ip, port}; each gets a TCP and a UDP listener that answer with their own "ip port" identity, so
// the client learns which backend it reached. A listener with `hold` keeps its TCP connections open
// after the identity (one line) and echoes what it receives, for tests of long-lived connections.
// Prints "ready" once everything listens; exits when stdin closes (the parent died or finished), so
// no server outlives its test.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import type { Server } from 'node:net';
import type { Socket as UdpSocket } from 'node:dgram';

interface Listen { ip: string; port: number; hold?: boolean }

const specs = JSON.parse(process.argv[2] ?? '[]') as Listen[];
const closers: (Server | UdpSocket)[] = [];

function listenTcp({ ip, port, hold }: Listen): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = createServer((sock) => {
      sock.on('error', () => { /* a client reset: nothing to answer */ });
      if (!hold) return sock.end(`${ip} ${port}`);
      sock.write(`${ip} ${port}\n`);
      sock.on('data', (d) => sock.write(d));
    });
    srv.once('error', (err) => reject(new Error(`tcp listen ${ip}:${port}: ${err.message}`)));
    srv.listen({ host: ip, port, ipv6Only: ip.includes(':') }, () => resolve());
    closers.push(srv);
  });
}

function listenUdp({ ip, port }: Listen): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = createSocket({ type: ip.includes(':') ? 'udp6' : 'udp4', ipv6Only: ip.includes(':') });
    sock.on('message', (_msg, rinfo) => sock.send(`${ip} ${port}`, rinfo.port, rinfo.address));
    sock.once('error', (err) => reject(new Error(`udp bind ${ip}:${port}: ${err.message}`)));
    sock.bind(port, ip, () => resolve());
    closers.push(sock);
  });
}

try {
  await Promise.all(specs.flatMap((s) => [listenTcp(s), listenUdp(s)]));
  process.stdout.write('ready\n');
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
process.stdin.resume();
process.stdin.on('end', () => {
  for (const c of closers) c.close();
  process.exit(0);
});
