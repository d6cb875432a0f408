// One agent lifetime for datapath.test.ts, run inside the test's network namespace (nsenter):
// open the datapath, attach the devices, program one service through the LB programmer, print a JSON
// report on stdout, close (pins and links stay). With "cleanup" it runs cleanupDatapath instead.
// With "sabotage" it then undoes parts of its own datapath the way an intruder or a confused
// operator would, runs repair() and reports what was repaired.
//   usage: datapath-run.ts <json {pinPath, cgroupPath, xdp, devices, nodeIP}> [cleanup|sabotage]
import { defaultBpfOptions } from '../../config/bpf-options.ts';
import { createLogger } from '../../log/logger.ts';
import { bpfObjectPath } from '../asset-paths.ts';
import { rmSync } from 'node:fs';
import { createMap, openPinnedLink, tcDetach, tcQuery } from 'bpf-loader-napi';
import { cleanupDatapath, Datapath } from '../datapath.ts';
import { ourTcFilter } from '../attach-devices.ts';
import { LbIds } from '../ids.ts';
import { LbProgrammer } from '../lb-programmer.ts';
import { backendKey } from '../../model/backend-key.ts';
import { parseIp } from '../../model/ip.ts';
import type { ServicePortInfo } from '../../model/service-port.ts';
import type { EndpointInfo } from '../../model/endpoints.ts';

const opts = JSON.parse(process.argv[2]!) as { pinPath: string; cgroupPath: string; xdp: 'native' | 'off' | 'generic'; devices: string[]; nodeIP: string; conntrack?: number };
if (process.argv[3] === 'cleanup') {
  const r = cleanupDatapath(opts.pinPath);
  console.log(JSON.stringify({ removed: r.removed, errors: r.errors.map((e) => e.message) }));
  process.exit(r.errors.length ? 1 : 0);
}
const logger = createLogger({ verbosity: 2, withSource: false });
const defaults = defaultBpfOptions();
const bpf = {
  ...defaults, pinPath: opts.pinPath, cgroupPath: opts.cgroupPath, xdp: opts.xdp, devices: opts.devices,
  mapSizes: { ...defaults.mapSizes, ...(opts.conntrack ? { conntrack: opts.conntrack } : {}) },
};
const dp = await Datapath.open({ bpf, logger, objects: { sock: bpfObjectPath('sock'), tc: bpfObjectPath('tc'), xdp: bpfObjectPath('xdp'), mapCount: bpfObjectPath('map_count') } });
const ids = new LbIds({ now: () => Date.now() });
const seeded = dp.seedIds(ids);
const attachments = dp.attachDevices([opts.nodeIP]);
const sp: ServicePortInfo = {
  key: 'kpb/web:tcp/TCP/IPv4', service: 'kpb/web', created: 0, portName: 'tcp', family: 'IPv4', protocol: 'TCP', type: 'ClusterIP',
  clusterIP: '198.19.0.10', port: 80, nodePort: 0, externalIPs: [], loadBalancerVIPs: [], loadBalancerSourceRanges: [],
  affinityTimeoutSeconds: 0, externalPolicyLocal: false, internalPolicyLocal: false, healthCheckNodePort: 0, trafficDistribution: '',
};
const ep: EndpointInfo = { ip: '198.18.1.11', backend: backendKey(parseIp('198.18.1.11')!.bytes, 8080, 6), family: 'IPv4', port: 8080, ready: true, serving: true, terminating: false, nodeName: 'n', zone: '', isLocal: true, zoneHints: [], nodeHints: [] };
const programmer = new LbProgrammer({ io: dp.maps, codec: dp.codec, ids, capacity: dp.capacity(), maglevTableSize: bpf.maglevTableSize });
programmer.configure({ name: 'n', labels: {}, nodeIPs: [opts.nodeIP], nodePortAddresses: [opts.nodeIP], localhostNodePorts: false }, { families: ['IPv4'] });
const sync = programmer.program(new Map([[sp.service, [sp]]]), new Map([[sp.key, [ep]]]), [], 'full');
// As the agent does after its first successful sync with the devices attached.
dp.finishMigration();
const counters = await dp.readCounters();
// The SNAT sweep walks one part of the tables per call, from where the last one stopped.
const swept = [dp.sweepSnat(), dp.sweepSnat()];
let sabotage: Record<string, unknown> | undefined;
if (process.argv[3] === 'sabotage') {
  const ext0 = attachments.find((a) => a.device === 'ext0')!;
  // A cgroup program detached through its pin; another link's pin removed; our tc ingress filter
  // deleted; the XDP link detached; a map pin removed and another replaced by a stranger's map.
  const connect4 = openPinnedLink(`${opts.pinPath}/links/sock-kpb_sock_connect4`);
  connect4.detach();
  connect4.close();
  rmSync(`${opts.pinPath}/links/sock-kpb_sock_sendmsg4`);
  tcDetach(ourTcFilter(ext0.ifindex, 'ingress'));
  const xdp = openPinnedLink(`${opts.pinPath}/links/xdp-ext0`);
  xdp.detach();
  xdp.close();
  rmSync(`${opts.pinPath}/lb_backends`);
  rmSync(`${opts.pinPath}/lb_rev_nat`);
  const stranger = createMap({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1 });
  stranger.pin(`${opts.pinPath}/lb_rev_nat`);
  stranger.close();
  const first = dp.repair();
  const second = dp.repair();
  sabotage = {
    repairs: first.repairs.map((r) => `${r.hook} ${r.what}: ${r.why}`).sort(),
    errors: first.errors.map((e) => e.message),
    secondRepairs: second.repairs.length,
    tcIngressBack: tcQuery(ourTcFilter(ext0.ifindex, 'ingress')) !== 0,
  };
}
dp.close();
console.log(JSON.stringify({
  seeded, attachments, ops: sync.ops, repaired: sync.repaired, ok: sync.ok, failures: sync.failures,
  services: counters.maps.find((m) => m.map === 'lb_services')?.entries, xdpFallback: counters.xdpFallback, sabotage,
  snat: counters.maps.filter((m) => m.map.startsWith('kpb_snat')).map((m) => [m.map, m.entries, m.maxEntries]), swept,
}));
