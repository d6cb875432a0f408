// Echo endpoints for the north-south traffic tests, run inside test namespaces:
//   node np-echo.ts server <tcpPort> <udpPort> [host]   answers every TCP connection and UDP datagram
//                                                        with "<peer address> <peer port>" (what the
//                                                        backend saw as the client)
//   node np-echo.ts client tcp|udp <host> <port>         prints the answer, exits 1 after 5 s without one
//   node np-echo.ts big <host> <port> <bytes>            sends one UDP datagram of <bytes> (fragmented by
//                                                        the sender's stack when over the MTU); the server
//                                                        sends it back whole; prints "intact <bytes>", or
//                                                        exits 1 when the answer differs or does not come
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';

const [mode, a, b, c, d] = process.argv.slice(2);

if (mode === 'server') {
  const host = c ?? '::';
  createServer((s) => {
    s.end(`${s.remoteAddress?.replace(/^::ffff:/, '')} ${s.remotePort}\n`);
    s.on('error', () => {});
  }).listen(Number(a), host, () => process.stdout.write('tcp-ready\n'));
  const u = createSocket({ type: 'udp6', ipv6Only: false });
  u.on('message', (m, r) => {
    if (m.length >= 64 && m.subarray(0, 4).toString() === 'ECHO') u.send(m, r.port, r.address);
    else u.send(`${r.address.replace(/^::ffff:/, '')} ${r.port}\n`, r.port, r.address);
  });
  u.bind(Number(b), host, () => process.stdout.write('udp-ready\n'));
} else if (mode === 'client') {
  const [proto, host, port] = [a, b, Number(c)];
  const timer = setTimeout(() => { process.stderr.write(`no ${proto} answer from ${host}:${port} within 5 s\n`); process.exit(1); }, 5000);
  if (proto === 'tcp') {
    let buf = '';
    const s = connect({ host, port }, () => s.write('hi'));
    s.on('data', (x) => { buf += x; });
    s.on('end', () => { clearTimeout(timer); process.stdout.write(buf); });
    s.on('error', (e) => { process.stderr.write(`tcp ${host}:${port}: ${e.message}\n`); process.exit(1); });
  } else {
    const u = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    u.on('message', (m) => { clearTimeout(timer); process.stdout.write(m.toString()); u.close(); });
    u.send('hi', port, host);
  }
  void d;
} else if (mode === 'big') {
  const [host, port, size] = [a, Number(b), Number(c)];
  const data = Buffer.alloc(size);
  data.write('ECHO');
  for (let i = 4; i < size; i++) data[i] = (i * 31 + size) & 0xff;
  const u = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const timer = setTimeout(() => { process.stderr.write(`no ${size}-byte answer from ${host}:${port} within 5 s\n`); process.exit(1); }, 5000);
  u.on('message', (m) => {
    clearTimeout(timer);
    if (!m.equals(data)) {
      process.stderr.write(`the ${size}-byte answer from ${host}:${port} differs (${m.length} bytes back)\n`);
      process.exit(1);
    }
    process.stdout.write(`intact ${m.length}\n`);
    u.close();
  });
  u.send(data, port, host);
} else {
  process.stderr.write('usage: np-echo.ts server <tcpPort> <udpPort> [host] | client tcp|udp <host> <port> | big <host> <port> <bytes>\n');
  process.exit(2);
}
