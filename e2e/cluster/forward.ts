// Makes a TCP service inside a namespace reachable from the test process as 127.0.0.1:<port> in
// the root namespace: a loopback listener here pipes into bin/unix-forwarder.ts running in the
// namespace. Only a loopback socket is opened in the root namespace; no interface or route.
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Proc, type Placement } from './proc.ts';
import type { Teardown } from './teardown.ts';

const FORWARDER = join(import.meta.dirname, 'bin', 'unix-forwarder.ts');

export interface Forward {
  localPort: number;
}

export async function startForward(place: Placement, host: string, port: number, socketPath: string, teardown: Teardown): Promise<Forward> {
  const proc = new Proc(place, [process.execPath, FORWARDER, socketPath, host, String(port)], { name: `forwarder to ${host}:${port}` });
  teardown.add(`forwarder to ${host}:${port}`, () => proc.stop(), () => proc.kill());
  await proc.waitFor(/forwarding/, 10_000);
  const open = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    open.add(inbound);
    inbound.on('close', () => open.delete(inbound));
    const outbound = connect(socketPath);
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  teardown.add('loopback forward listener', () => new Promise<void>((resolve) => {
    // close() waits for open connections (keep-alive, watches): end them so teardown is bounded.
    for (const s of open) s.destroy();
    server.close(() => resolve());
  }));
  return { localPort: (server.address() as AddressInfo).port };
}
