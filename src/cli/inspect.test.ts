import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInspectArgs } from './inspect.ts';
import { formatTable } from '../inspect/format-table.ts';

test('parseInspectArgs() reads the target, -o, --bpf-pin-path and the conntrack filters; refuses the rest', () => {
  assert.deepEqual(parseInspectArgs(['conntrack', '-o', 'json', '--bpf-pin-path=/sys/fs/bpf/x', '--address', '010.0.0.1', '--port=53']), {
    what: 'conntrack', pinPath: '/sys/fs/bpf/x', json: true, address: '10.0.0.1', port: 53, all: false,
  });
  assert.equal(parseInspectArgs(['services']).constructor, Object);
  assert.match(String(parseInspectArgs(['routes'])), /unknown inspect target "routes"/);
  assert.match(String(parseInspectArgs(['services', '-o', 'yaml'])), /want table or json/);
  assert.match(String(parseInspectArgs(['conntrack', '--port', '70000'])), /not a port/);
  assert.match(String(parseInspectArgs(['conntrack', '--bogus=1'])), /unknown flag/);
});

test('formatTable() pads columns to the widest cell', () => {
  assert.equal(formatTable(['A', 'BB'], [['xyz', '1'], ['q', '22']]), 'A    BB\nxyz  1\nq    22\n');
});
