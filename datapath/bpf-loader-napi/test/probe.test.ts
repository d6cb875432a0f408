// probe: program, map and helper support on the running kernel (Linux 6.x has all of these).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BpfError, probe } from '../lib/index.ts';
import { requireRoot } from './helpers/env.ts';

test('probe.programType and probe.mapType report what the datapath needs', () => {
  requireRoot();
  for (const t of ['xdp', 'sched_cls', 'cgroup_sock_addr', 'cgroup_sock']) assert.equal(probe.programType(t), true, t);
  for (const t of ['hash', 'lru_hash', 'percpu_array', 'lpm_trie', 'hash_of_maps', 'array']) assert.equal(probe.mapType(t), true, t);
});

test('probe.helper knows helpers by UAPI name, with or without the bpf_ prefix', () => {
  requireRoot();
  const tc = ['redirect', 'redirect_neigh', 'redirect_peer', 'fib_lookup', 'jiffies64', 'csum_diff', 'l3_csum_replace',
    'l4_csum_replace', 'skb_adjust_room', 'ktime_get_ns', 'get_prandom_u32', 'map_lookup_elem'];
  for (const h of tc) assert.equal(probe.helper('sched_cls', `bpf_${h}`), true, h);
  assert.equal(probe.helper('xdp', 'xdp_adjust_head'), true);
  assert.equal(probe.helper('xdp', 'bpf_fib_lookup'), true);
  assert.equal(probe.helper('cgroup_sock_addr', 'bpf_get_netns_cookie'), true);
  assert.equal(probe.helper('cgroup_sock_addr', 'bpf_get_socket_cookie'), true);
  // A helper that exists but is not allowed for the program type.
  assert.equal(probe.helper('xdp', 'bpf_skb_adjust_room'), false);
});

test('probe rejects unknown names with BpfError EINVAL', () => {
  assert.throws(() => probe.programType('xdpp'), (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && /xdpp/.test(e.message));
  assert.throws(() => probe.mapType('hashmap'), (e: unknown) => e instanceof BpfError && /hashmap/.test(e.message));
  assert.throws(() => probe.helper('xdp', 'bpf_teleport'), (e: unknown) => e instanceof BpfError && /bpf_teleport/.test(e.message));
  assert.throws(() => probe.helper('xdp', ''), TypeError);
});
