import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { ServiceHealthServers, listenHttp, type ListenFn } from './service-health-servers.ts';

/**
 * A ListenFn over real sockets that never binds the fixed node port a Service asks for: it binds
 * an ephemeral port on 127.0.0.1 and records where the wanted port really landed.
 */
function ephemeralListen() {
  const bound = new Map<number, number>();
  const calls: Array<{ port: number; host: string }> = [];
  const listen: ListenFn = async (port, host, handler) => {
    calls.push({ port, host });
    const server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    bound.set(port, (server.address() as AddressInfo).port);
    return {
      close: () => new Promise<void>((done) => {
        bound.delete(port);
        server.close(() => done());
        server.closeAllConnections();
      }),
    };
  };
  return { listen, bound, calls };
}

test('ServiceHealthServers answers with kube-proxy JSON, headers and 200/503', async () => {
  const { listen, bound } = ephemeralListen();
  let healthy = true;
  const hcs = new ServiceHealthServers({ listen, proxyHealthy: () => healthy });
  await hcs.syncServices(new Map([['default/web', 32000]]));
  const url = `http://127.0.0.1:${bound.get(32000)}/healthz`;

  let r = await request(url);
  assert.equal(r.statusCode, 503, 'no local endpoints yet');
  assert.equal(r.headers['x-load-balancing-endpoint-weight'], '0');
  await r.body.dump();

  hcs.syncEndpoints(new Map([['default/web', 2]]));
  r = await request(url, { method: 'POST' });
  assert.equal(r.statusCode, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.equal(r.headers['x-load-balancing-endpoint-weight'], '2');
  const text = await r.body.text();
  assert.equal(text, '{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "web"\n\t},\n\t"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}');

  healthy = false;
  r = await request(`http://127.0.0.1:${bound.get(32000)}/any/path`);
  assert.equal(r.statusCode, 503, 'an unhealthy proxy fails every service');
  assert.equal(((await r.body.json()) as { serviceProxyHealthy: boolean }).serviceProxyHealthy, false);

  healthy = true;
  hcs.syncEndpoints(new Map());
  r = await request(url);
  assert.equal(r.statusCode, 503, 'services missing from the endpoint map count 0');
  await r.body.dump();
  await hcs.close();
  assert.equal(bound.size, 0);
});

test('ServiceHealthServers syncs the set: adds, removes and reopens on a port change', async () => {
  const { listen, bound, calls } = ephemeralListen();
  const hcs = new ServiceHealthServers({ listen, proxyHealthy: () => true, addresses: ['192.0.2.11', '2001:db8:1::11'] });
  await hcs.syncServices(new Map([['ns1/a', 30001], ['ns1/b', 30002]]));
  assert.deepEqual(calls.map((c) => `${c.host}:${c.port}`).sort(), ['192.0.2.11:30001', '192.0.2.11:30002', '2001:db8:1::11:30001', '2001:db8:1::11:30002']);
  calls.length = 0;
  await hcs.syncServices(new Map([['ns1/a', 30001], ['ns1/b', 30012], ['ns2/c', 30003]]));
  assert.deepEqual(calls.map((c) => c.port).sort(), [30003, 30003, 30012, 30012], 'unchanged ns1/a is not reopened');
  assert.deepEqual([...hcs.ports()].sort(), [['ns1/a', 30001], ['ns1/b', 30012], ['ns2/c', 30003]]);
  assert.equal(bound.has(30002), false, 'the old port of ns1/b is closed');
  await hcs.syncServices(new Map([['ns2/c', 30003]]));
  assert.deepEqual([...hcs.ports()], [['ns2/c', 30003]]);
  await hcs.close();
  assert.equal(bound.size, 0);
});

test('ServiceHealthServers reports a busy port, keeps the others, and retries on the next sync', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const busy = (blocker.address() as AddressInfo).port;
  const { listen: ephemeral } = ephemeralListen();
  // The conflicting service really binds the blocker's port, so the kernel says EADDRINUSE.
  const listen: ListenFn = (port, host, handler) => (port === 31000 ? listenHttp(busy, '127.0.0.1', handler) : ephemeral(port, host, handler));
  const errors: string[] = [];
  const hcs = new ServiceHealthServers({ listen, proxyHealthy: () => true, onBindError: (svc, port, err) => errors.push(`${svc.namespace}/${svc.name} ${port} ${err.message}`) });
  const wanted = new Map([['ns/conflict', 31000], ['ns/ok', 31001]]);
  await hcs.syncServices(wanted);
  assert.equal(errors.length, 1);
  assert.match(errors[0], /^ns\/conflict 31000 Cannot open health check node port 31000 for service "ns\/conflict": .*EADDRINUSE/);
  assert.deepEqual([...hcs.ports()], [['ns/ok', 31001]]);
  await new Promise<void>((r) => blocker.close(() => r()));
  await hcs.syncServices(wanted);
  assert.equal(errors.length, 1, 'the retry succeeded');
  assert.deepEqual([...hcs.ports()].sort(), [['ns/conflict', 31000], ['ns/ok', 31001]]);
  const r = await request(`http://127.0.0.1:${busy}/`);
  assert.equal(((await r.body.json()) as { service: { name: string } }).service.name, 'conflict');
  await hcs.close();
});

test('ServiceHealthServers closes already opened addresses when a later one fails', async () => {
  const closed: string[] = [];
  const listen: ListenFn = async (port, host) => {
    if (host === 'bad') throw new Error('listen EADDRNOTAVAIL');
    return { close: async () => { closed.push(`${host}:${port}`); } };
  };
  const errors: Error[] = [];
  const hcs = new ServiceHealthServers({ listen, proxyHealthy: () => true, addresses: ['good', 'bad'], onBindError: (_s, _p, e) => errors.push(e) });
  await hcs.syncServices(new Map([['ns/a', 30000]]));
  assert.deepEqual(closed, ['good:30000']);
  assert.equal(hcs.ports().size, 0);
  assert.equal(errors.length, 1);
});
