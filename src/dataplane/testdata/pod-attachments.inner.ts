// PodAttachments against the kernel, inside the namespace pod-attachments.test.ts builds (never run
// directly): devices appear, disappear and change role; the filters follow; repair puts back a
// deleted one; a new agent's first sync replaces ours in place and sweeps strays.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { test, after } from 'node:test';
import { BpfObject, tcDetach, tcQuery, type Collection } from 'bpf-loader-napi';
import { hostDevices, type HostDevice } from '../host-info.ts';
import { bpfObjectPath } from '../asset-paths.ts';
import { detachPodFilters, PodAttachments, podTcFilter } from '../pod-attachments.ts';
import { podDetection } from '../pod-detection.ts';
import { repairDatapath } from '../repair-datapath.ts';

if (!process.env.KPB_POD_NETNS) throw new Error('pod-attachments.inner.ts runs only inside the namespace pod-attachments.test.ts creates');
const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
const PIN = `/sys/fs/bpf/kpb-podatt-${process.pid}`;
const coll: Collection = await BpfObject.open(bpfObjectPath('pod')).load({ pinPath: PIN });
after(() => {
  coll.close();
  rmSync(PIN, { recursive: true, force: true });
});
const ingress = coll.program('kpb_pod_ingress');
const egress = coll.program('kpb_pod_egress');
const ids = { ingress: ingress.info().id, egress: egress.info().id };
const settings = (mode: string, bridge = '', prefix = '') => ({ detectLocalMode: mode, detectLocal: { bridgeInterface: bridge, interfaceNamePrefix: prefix }, clusterCIDR: '198.18.0.0/16,2001:db8:10::/56' });
const external = (all: HostDevice[]) => all.filter((d) => d.name === 'eth0');

/** Devices with our pod filter, and whether both directions run our programs. */
function withPrograms(): string[] {
  const out: string[] = [];
  for (const d of hostDevices()) {
    const i = tcQuery(podTcFilter(d.ifindex, 'ingress'));
    const e = tcQuery(podTcFilter(d.ifindex, 'egress'));
    if (i === 0 && e === 0) continue;
    assert.equal(i, ids.ingress, `ingress of ${d.name}`);
    assert.equal(e, ids.egress, `egress of ${d.name}`);
    out.push(d.name);
  }
  return out.sort();
}

test('the filters follow the devices and the detection; repair and restart', () => {
  const pods = new PodAttachments({ ingress, egress, cfg: coll.map('kpb_pod_cfg') });
  let all = hostDevices();
  let r = pods.sync(all, external(all), podDetection(settings('ClusterCIDR'), null));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(withPrograms(), ['br0', 'p-a', 'p-b', 'p-c'], 'every Ethernet device but lo and eth0; not the tun device');
  const cfg = coll.map('kpb_pod_cfg').lookup(0) as { flags: number; net4: number; mask4: number; net6: Uint8Array; mask6: Uint8Array };
  assert.equal(cfg.flags, 1 | 4);
  assert.equal(cfg.net4, 0xc6120000);
  assert.equal(cfg.mask4, 0xffff0000);
  assert.deepEqual([...cfg.mask6], [...new Array(7).fill(0xff), ...new Array(9).fill(0)]);

  // A pod interface appears, another goes: the next sync serves the one and forgets the other.
  ip('link', 'add', 'p-d', 'type', 'veth', 'peer', 'name', 'x9', 'netns', `${process.env.KPB_POD_NETNS}-peers`);
  ip('link', 'del', 'p-a');
  all = hostDevices();
  r = pods.sync(all, external(all), podDetection(settings('ClusterCIDR'), null));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.attached.map((a) => a.device), ['p-d']);
  assert.deepEqual(withPrograms(), ['br0', 'p-b', 'p-c', 'p-d']);

  // Another detection: the prefix picks the pods' interfaces; the bridge loses its programs.
  r = pods.sync(all, external(all), podDetection(settings('InterfaceNamePrefix', '', 'p-'), null));
  assert.deepEqual(r.detached, ['br0']);
  assert.deepEqual(withPrograms(), ['p-b', 'p-c', 'p-d']);
  assert.equal((coll.map('kpb_pod_cfg').lookup(0) as { flags: number }).flags, 0, 'every packet on those interfaces');

  // Someone deletes a filter: self-repair puts it back.
  const pb = all.find((d) => d.name === 'p-b')!;
  tcDetach(podTcFilter(pb.ifindex, 'ingress'));
  const fixed = repairDatapath({ links: [], tc: pods.repairEntries(ids), maps: [] });
  assert.deepEqual(fixed.errors, []);
  assert.deepEqual(fixed.repairs.map((x) => `${x.hook} ${x.what}`), ['tc tc ingress on p-b']);
  assert.deepEqual(withPrograms(), ['p-b', 'p-c', 'p-d']);

  // A new agent with the bridge detection: its first sync replaces the bridge port's filter in
  // place and sweeps the strays of the previous run.
  const next = new PodAttachments({ ingress, egress, cfg: coll.map('kpb_pod_cfg') });
  r = next.sync(all, external(all), podDetection(settings('BridgeInterface', 'br0'), null));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.attached, [{ device: 'p-c', how: 'replaced' }]);
  assert.deepEqual(r.detached.sort(), ['p-b', 'p-d']);
  assert.deepEqual(withPrograms(), ['p-c']);

  // No CIDR at all in a CIDR mode: no programs anywhere.
  r = next.sync(all, external(all), podDetection({ ...settings('ClusterCIDR'), clusterCIDR: '' }, null));
  assert.deepEqual(withPrograms(), []);

  // --cleanup's sweep.
  r = next.sync(all, external(all), podDetection(settings('ClusterCIDR'), null));
  assert.ok(withPrograms().length > 0);
  assert.ok(detachPodFilters(hostDevices()).length > 0);
  assert.deepEqual(withPrograms(), []);
});
