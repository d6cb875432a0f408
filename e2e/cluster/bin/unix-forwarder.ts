// Runs inside a namespace: accepts connections on a unix socket (filesystem sockets are not
// network-namespace scoped) and connects each one to host:port as seen from that namespace.
// This lets the test process in the root namespace reach the apiserver without adding any
// interface or route to the root namespace.
import { createServer, connect } from 'node:net';
import { rmSync } from 'node:fs';

const [socketPath, host, portText] = process.argv.slice(2);
if (socketPath === undefined || host === undefined || portText === undefined) {
  console.error('usage: unix-forwarder.ts <socket> <host> <port>');
  process.exit(2);
}
rmSync(socketPath, { force: true });
const server = createServer((inbound) => {
  const outbound = connect(Number(portText), host);
  inbound.pipe(outbound).pipe(inbound);
  inbound.on('error', () => outbound.destroy());
  outbound.on('error', () => inbound.destroy());
});
server.listen(socketPath, () => console.log(`forwarding ${socketPath} -> ${host}:${portText}`));
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => server.close(() => process.exit(0)));
