import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultBpfOptions, validateBpfOptions } from './bpf-options.ts';
import type { BpfOptions } from './bpf-options.ts';
import { formatFieldErrors } from './field-error.ts';

test('validateBpfOptions() accepts the defaults', () => {
  assert.deepEqual(validateBpfOptions(defaultBpfOptions()), []);
  assert.equal(defaultBpfOptions().maglevTableSize, 16381);
  assert.equal(defaultBpfOptions().pinPath, '/sys/fs/bpf/kube-proxy-bpf');
});

test('validateBpfOptions() names the flag and the reason', () => {
  const cases: [(o: BpfOptions) => void, string][] = [
    [(o) => (o.maglevTableSize = 16384), '--bpf-maglev-table-size: Invalid value: 16384: must be a prime number no larger than 65537 (e.g. 251, 16381, 65521)'],
    [(o) => (o.lbMode = 'tunnel' as BpfOptions['lbMode']), '--bpf-lb-mode: Unsupported value: "tunnel": supported values: "snat", "dsr", "hybrid"'],
    [(o) => (o.xdp = 'best' as BpfOptions['xdp']), '--bpf-xdp: Unsupported value: "best": supported values: "native", "off", "generic"'],
    [(o) => (o.pinPath = 'relative/pins'), '--bpf-pin-path: Invalid value: "relative/pins": must be an absolute path'],
    [(o) => (o.devices = ['eth0', 'a/b']), '--bpf-devices[1]: Invalid value: "a/b": must be a network interface name (1-15 characters, no "/", ":" or spaces)'],
    [(o) => (o.mapSizes.conntrack = 0), '--bpf-map-conntrack: Invalid value: 0: must be an integer within the range [1, 268435456]'],
    [(o) => (o.mapSizes.snat = 2 ** 23 + 1), '--bpf-map-snat: Invalid value: 8388609: must be at most 8388608 (the sweep walks each table in one bpf_loop)'],
    [(o) => (o.nodePortSnatPortRange = { min: 65000, max: 64000 }), '--bpf-nodeport-snat-port-range: Invalid value: "65000-64000": must be MIN-MAX with 1024 <= MIN <= MAX <= 65535'],
  ];
  for (const [mutate, want] of cases) {
    const o = defaultBpfOptions();
    mutate(o);
    assert.equal(formatFieldErrors(validateBpfOptions(o)), want);
  }
});
