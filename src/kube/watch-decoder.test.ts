import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reviveTimestamps, WatchDecoder } from './watch-decoder.ts';

test('WatchDecoder splits events across chunk boundaries, including inside UTF-8 characters', () => {
  const d = new WatchDecoder<{ metadata: { name: string } }>('watch services');
  const text = '{"type":"ADDED","object":{"metadata":{"name":"é"}}}\n{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}\n';
  const bytes = new TextEncoder().encode(text);
  const split = text.indexOf('é') + 1; // inside the two-byte é
  const first = d.push(bytes.slice(0, split));
  assert.deepEqual(first, []);
  const rest = d.push(bytes.slice(split));
  assert.equal(rest.length, 2);
  assert.deepEqual(rest[0], { type: 'ADDED', object: { metadata: { name: 'é' } } });
  assert.equal(rest[1].type, 'BOOKMARK');
  assert.deepEqual(d.end(), []);
});

test('WatchDecoder decodes a last line without newline at the end of the stream', () => {
  const d = new WatchDecoder('watch nodes');
  assert.deepEqual(d.push('{"type":"ERROR","object":{"code":410,"reason":"Expired"}}'), []);
  assert.deepEqual(d.end(), [{ type: 'ERROR', object: { code: 410, reason: 'Expired' } }]);
});

test('WatchDecoder turns metadata timestamps into Dates', () => {
  const d = new WatchDecoder<{ metadata: { deletionTimestamp: Date; creationTimestamp: Date } }>('watch nodes');
  const [ev] = d.push('{"type":"MODIFIED","object":{"metadata":{"creationTimestamp":"2026-01-01T00:00:00Z","deletionTimestamp":"2026-01-02T00:00:00Z"}}}\n');
  assert.ok(ev.type === 'MODIFIED');
  assert.ok(ev.object.metadata.deletionTimestamp instanceof Date);
  assert.equal(ev.object.metadata.deletionTimestamp.toISOString(), '2026-01-02T00:00:00.000Z');
  assert.equal(ev.object.metadata.creationTimestamp.getTime(), Date.UTC(2026, 0, 1));
});

test('WatchDecoder rejects lines that are not watch events, naming the watch', () => {
  assert.throws(() => new WatchDecoder('watch services').push('not json\n'), { name: 'SyntaxError', message: /^watch services: cannot decode event/ });
  assert.throws(() => new WatchDecoder('watch services').push('{"kind":"Status"}\n'), /expected \{type, object\}/);
  assert.throws(() => new WatchDecoder('watch services').push('{"type":"SOMETHING","object":{}}\n'), SyntaxError);
});

test('WatchDecoder and list decoding drop metadata.managedFields (nothing reads it; it doubles cache memory)', () => {
  const obj = { metadata: { name: 's', managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:spec': {} } }] }, spec: { ports: [{ port: 80 }] } };
  const [ev] = new WatchDecoder<typeof obj>('watch services').push(`${JSON.stringify({ type: 'ADDED', object: obj })}\n`);
  assert.deepEqual(ev!.object, { metadata: { name: 's' }, spec: { ports: [{ port: 80 }] } });
  assert.deepEqual(JSON.parse(JSON.stringify({ items: [obj] }), reviveTimestamps), { items: [{ metadata: { name: 's' }, spec: { ports: [{ port: 80 }] } }] });
});

test('WatchDecoder projects the objects of ADDED, MODIFIED and DELETED events, not bookmarks', () => {
  const d = new WatchDecoder<{ n: string }>('watch services', (raw) => ({ n: (raw as { metadata: { name: string } }).metadata.name }));
  const evs = d.push('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}\n');
  assert.deepEqual(evs, [{ type: 'ADDED', object: { n: 'a' } }, { type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } }]);
});
