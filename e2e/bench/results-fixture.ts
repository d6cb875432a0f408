// Results for the report and chart tests: every part in the shape issues 10 and 12 give it (figure
// fields with per-round values, sync-micro variants), plus figures no code names (xdpFragmentP50Ns,
// ciliumNsPerPkt, mapBytesMiB, an "ours (shared)" control row), which must show up all the same.
import type { Results } from './results.ts';

const scale = (services: number, k: number) => ({
  services, firstSyncS: 0.5 * k, observedMs: { n: 50, min: 1, max: 30 * k, mean: 5, stddev: 1, p50: 3 * k, p90: 9 * k, p99: 12 * k },
  observedSamplesMs: [], histogramMs: { p50: 4 * k, p99: 15 * k, count: 50 }, timeouts: 0, changesMade: 50,
  rssMiBAfterSync: 40 * k, rssMiBAfterChanges: 45 * k, cpuSecondsToFirstSync: 0.4 * k, cpuSecondsDuringChanges: 1.2 * k,
});

const microRun = (variant: string, services: number, endpoints: number, base: number) => {
  const rounds = [0.9, 1, 1.2].map((f) => ({
    variant, services, endpoints, changes: 200, firstSyncMs: base * f, changeP50Ms: 1 * f, changeP99Ms: 4 * f,
    fullRecomputes: 0, heapUsedMiB: 30 * f, rssMiB: 90 * f, cpuMs: 3000 * f, mapBytesMiB: 5 * f,
  }));
  return { ...rounds[1], rounds };
};

export function fixtureResults(): Results {
  const progRounds = [
    { floorP50Ns: 79, xdpEstablishedP50Ns: 130, xdpNewP50Ns: 380, tcEstablishedP50Ns: 260, tcNewP50Ns: 420, xdpEstablishedWarmNs: 90, tcEstablishedWarmNs: 150, floorWarmNs: 10, xdpFragmentP50Ns: 300 },
    { floorP50Ns: 80, xdpEstablishedP50Ns: 140, xdpNewP50Ns: 390, tcEstablishedP50Ns: 300, tcNewP50Ns: 450, xdpEstablishedWarmNs: 95, tcEstablishedWarmNs: 160, floorWarmNs: 11, xdpFragmentP50Ns: 310 },
    { floorP50Ns: 85, xdpEstablishedP50Ns: 170, xdpNewP50Ns: 400, tcEstablishedP50Ns: 310, tcNewP50Ns: 470, xdpEstablishedWarmNs: 99, tcEstablishedWarmNs: 170, floorWarmNs: 12, xdpFragmentP50Ns: 320 },
  ];
  const fwdRounds = [
    { xdpTxFloorNsPerPkt: 185, oursXdpNsPerPkt: 230, oursTcNsPerPkt: 600, nftablesNsPerPkt: 1400, iptablesNsPerPkt: 1500, ciliumNsPerPkt: 260 },
    { xdpTxFloorNsPerPkt: 190, oursXdpNsPerPkt: 250, oursTcNsPerPkt: 620, nftablesNsPerPkt: 1420, iptablesNsPerPkt: 1510, ciliumNsPerPkt: 270 },
    { xdpTxFloorNsPerPkt: 200, oursXdpNsPerPkt: 300, oursTcNsPerPkt: 700, nftablesNsPerPkt: 1440, iptablesNsPerPkt: 1530, ciliumNsPerPkt: 280 },
  ];
  return {
    startedAt: '2026-12-01T00:00:00.000Z',
    machine: { kernel: '6.18', cpus: 2, cpuModel: 'test', node: 'v24', loadavgStart: [0.1, 0.1, 0.1], note: 'fixture' },
    options: {},
    progcost: {
      status: 'ok', samples: 100, rounds: 3, ...progRounds[1], perRound: progRounds,
      cases: [], raw: { 'xdp established': [120, 130, 140, 150, 2000], 'tc new': [400, 450, 500] }, counters: {}, loadavg: [0.1, 0.1],
    } as unknown as Results['progcost'],
    forward: {
      status: 'ok', rounds: 3, ...fwdRounds[1], perRound: fwdRounds, ratios: { nftablesOverOursXdp: 5.68 },
      how: { oursXdp: 'kpb_xdp_ingress generates' }, notRun: {},
    } as unknown as Results['forward'],
    clusterip: {
      status: 'ok', client: 'a', server: 'b',
      contenders: [
        { name: 'pod IP (direct)', status: 'ok', how: 'x', rr: { runTimeS: 1, received: 1, ratePerS: 23_000, avgUs: 40, percentilesUs: { '99.000': 90 } },
          crr: { ratePerS: 9500, connections: 1, elapsedS: 1, errors: 0, rounds: 3, latencyUs: { n: 3, min: 1, max: 3, mean: 2, stddev: 1, p50: 90, p90: 150, p99: 190 },
            pairedDirect: { connections: 1, elapsedS: 1, errors: 0, ratePerS: 9200, latencyUs: { n: 3, min: 1, max: 3, mean: 2, stddev: 1, p50: 90, p90: 150, p99: 190 } },
            ratioToPairedDirect: 1.03, cdfUs: [[80, 0.1], [90, 0.5], [190, 0.99], [400, 1]], perRound: { service: [9400, 9500, 9700], podIp: [9100, 9200, 9300] } } },
        { name: 'ours (socket LB)', status: 'ok', how: 'y', rr: { runTimeS: 1, received: 1, ratePerS: 44_000, avgUs: 20, percentilesUs: { '99.000': 47 } },
          crr: { ratePerS: 8600, connections: 1, elapsedS: 1, errors: 0, rounds: 3, latencyUs: { n: 3, min: 1, max: 3, mean: 2, stddev: 1, p50: 100, p90: 150, p99: 200 },
            pairedDirect: { connections: 1, elapsedS: 1, errors: 0, ratePerS: 8650, latencyUs: { n: 3, min: 1, max: 3, mean: 2, stddev: 1, p50: 90, p90: 150, p99: 190 } },
            ratioToPairedDirect: 0.99, cdfUs: [[85, 0.1], [100, 0.5], [200, 0.99], [500, 1]], perRound: { service: [8500, 8600, 8700], podIp: [8600, 8650, 8700] } } },
      ],
    } as unknown as Results['clusterip'],
    control: {
      status: 'ok', endpointsPerService: 10, creation: [{ services: 1000, seconds: 8 }, { services: 10_000, seconds: 70 }],
      contenders: [
        { name: 'ours', status: 'ok', scales: [scale(1000, 1), scale(5000, 3), scale(10_000, 6)] },
        { name: 'ours (shared)', status: 'ok', scales: [{ ...scale(1000, 1.1), rounds: [scale(1000, 1), scale(1000, 1.3)] }, scale(10_000, 7)] },
        { name: 'kube-proxy nftables', status: 'ok', scales: [scale(1000, 10), scale(5000, 40), scale(10_000, 80)] },
        { name: 'kube-proxy iptables', status: 'ok', scales: [scale(1000, 12), { status: 'not run', reason: 'no first sync within 600 s', services: 5000 }] },
      ],
    } as unknown as Results['control'],
    syncMicro: [microRun('distinct', 10_000, 10, 1800), microRun('shared', 10_000, 10, 2100), microRun('conflict', 10_000, 10, 1900), microRun('distinct', 1, 5000, 300)],
    errors: [],
  };
}
