import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultKubeProxyConfiguration } from '../config/defaults.ts';
import type { KubeProxyConntrackConfiguration } from '../config/types.ts';
import { bpfConntrackTimeouts, conntrackMax, HASHSIZE, setConntrackSysctls, type SysctlIo } from './conntrack-sysctls.ts';

function fakeIo(values: Record<string, number>, cpus = 2, readOnly: string[] = []): SysctlIo & { values: Record<string, number> } {
  return {
    values,
    read: (p) => {
      if (!(p in values)) throw new Error(`ENOENT ${p}`);
      return values[p]!;
    },
    write: (p, v) => {
      if (readOnly.includes(p)) throw new Error(`EACCES ${p}`);
      values[p] = v;
    },
    cpus: () => cpus,
  };
}

const conf = (o: Partial<KubeProxyConntrackConfiguration> = {}) => ({ ...defaultKubeProxyConfiguration().conntrack, ...o });
const NF = 'net/netfilter/';

test('conntrackMax() follows upstream: maxPerCore x CPUs, at least min, capped at 1M, 0 leaves it', () => {
  const table: [Partial<KubeProxyConntrackConfiguration>, number, number][] = [
    [{}, 2, 131072],
    [{}, 8, 262144],
    [{ maxPerCore: 0 }, 8, 0],
    [{ maxPerCore: 1 << 20 }, 4, 1048576],
    [{ min: 0 }, 1, 32768],
  ];
  for (const [o, cpus, want] of table) assert.equal(conntrackMax(conf(o), cpus), want, JSON.stringify([o, cpus]));
});

test('setConntrackSysctls() raises max and hashsize only, writes non-zero timeouts and be_liberal, skips equal values', () => {
  const io = fakeIo({ [`${NF}nf_conntrack_max`]: 65536, [HASHSIZE]: 16384, [`${NF}nf_conntrack_tcp_timeout_established`]: 432000, [`${NF}nf_conntrack_tcp_timeout_close_wait`]: 3600, [`${NF}nf_conntrack_udp_timeout`]: 30 });
  const logged: string[] = [];
  const written = setConntrackSysctls(conf({ tcpBeLiberal: true, udpTimeout: '5s', udpStreamTimeout: '0s' }), io, (e, v) => logged.push(`${e}=${v}`));
  assert.deepEqual(written, [
    `${NF}nf_conntrack_max=131072`, `${HASHSIZE}=32768`, `${NF}nf_conntrack_tcp_timeout_established=86400`,
    `${NF}nf_conntrack_tcp_be_liberal=1`, `${NF}nf_conntrack_udp_timeout=5`,
  ]);
  assert.deepEqual(logged, written);
  const big = fakeIo({ [`${NF}nf_conntrack_max`]: 262144, [HASHSIZE]: 262144 });
  assert.deepEqual(setConntrackSysctls(conf({ tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' }), big), [], 'never lowered; 0 leaves the timeouts');
});

test('setConntrackSysctls() fails naming the sysctl, as upstream\'s platform setup does', () => {
  const io = fakeIo({ [`${NF}nf_conntrack_max`]: 1000, [HASHSIZE]: 1000 }, 2, [`${NF}nf_conntrack_max`]);
  assert.throws(() => setConntrackSysctls(conf(), io), /could not set conntrack parameters from kube-proxy configuration: write net\/netfilter\/nf_conntrack_max=131072: EACCES/);
  assert.throws(() => setConntrackSysctls(conf(), fakeIo({ [`${NF}nf_conntrack_max`]: 262144 })), /read \/sys\/module\/nf_conntrack\/parameters\/hashsize: ENOENT/);
});

test('bpfConntrackTimeouts() feeds the same durations to the BPF lifetimes; 0 keeps the datapath default', () => {
  assert.deepEqual(bpfConntrackTimeouts(conf()), { kpb_ct_timeout_tcp_established: 86400 });
  assert.deepEqual(bpfConntrackTimeouts(conf({ tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s', udpTimeout: '5s', udpStreamTimeout: '2m' })),
    { kpb_ct_timeout_udp: 5, kpb_ct_timeout_udp_stream: 120 });
  assert.deepEqual(bpfConntrackTimeouts(conf({ tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s', udpStreamTimeout: '90s' })),
    { kpb_ct_timeout_udp: 90, kpb_ct_timeout_udp_stream: 90 });
});
