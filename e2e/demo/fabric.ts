// Makes the namespace fabric carry native XDP traffic the way physical NICs do. Two veth quirks
// stand between the agent's XDP program and a working NodePort in this topology (the datapath
// tests hit the same ones; see datapath/test/np-traffic-topology.ts):
//   1. A veth hands locally built packets on with CHECKSUM_PARTIAL: the L4 checksum field holds
//      only the pseudo-header sum and the kernel is meant to finish it later. XDP sees raw bytes
//      without that state, so after its NAT the packet leaves with a wrong checksum and the
//      receiver drops it. A real NIC delivers complete checksums: turn TX checksum offload off on
//      every veth of the run so every packet carries a complete one.
//   2. A veth delivers the frames its peer sends back with XDP_TX only when it runs an XDP program
//      itself. Attach a no-op XDP_PASS (xdp-pass.bpf.c) to the fabric side of each node's link.
// Everything here lives in the run's own namespaces and disappears with them at teardown.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from '../cluster/cluster.ts';
import { runIn } from '../cluster/proc.ts';
import { run } from '../cluster/run.ts';

const XDP_PASS_SOURCE = join(import.meta.dirname, 'xdp-pass.bpf.c');

export interface FabricChanges {
  checksumOffloadOff: number;
  xdpPassPorts: string[];
}

/** veth names in `netns` ("eth0", "v-a-pod1", ...), from `ip -o link`. */
async function veths(netns: string): Promise<string[]> {
  const res = await run(['ip', '-n', netns, '-o', 'link', 'show', 'type', 'veth']);
  // "5: eth0@if6: <BROADCAST,...": the name is the second field, before any "@peer".
  return res.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => l.split(': ')[1]!.split('@')[0]!);
}

export async function makeFabricNicLike(cluster: Cluster): Promise<FabricChanges> {
  const namespaces = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(`${cluster.runId}-`)) : [];
  let checksumOffloadOff = 0;
  await Promise.all(namespaces.map(async (netns) => {
    for (const dev of await veths(netns)) {
      await runIn({ netns }, ['ethtool', '-K', dev, 'tx', 'off'], { timeoutMs: 10_000 });
      checksumOffloadOff++;
    }
  }));
  const obj = join(cluster.dir, 'xdp-pass.bpf.o');
  await run(['clang', '-O2', '-g', '-target', 'bpf', '-c', XDP_PASS_SOURCE, '-o', obj]);
  const xdpPassPorts = Object.keys(cluster.nodes).map((n) => `f-${n}`);
  for (const port of xdpPassPorts) {
    await run(['ip', '-n', cluster.net.fabricNetns, 'link', 'set', 'dev', port, 'xdpdrv', 'obj', obj, 'sec', 'xdp']);
  }
  return { checksumOffloadOff, xdpPassPorts };
}
