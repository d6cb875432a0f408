// Node-b's side of the DSR traffic test, run inside node-b's namespace (with a private bpffs):
// loads the north-south objects, writes node-b's view of the DSR services (their backend, pod-b,
// is local here) and attaches tc to <dev> until stdin closes; then prints node-b's tc counters
// as one JSON line. Usage: node np-dsr-backend-node.ts <dev>
import { execFileSync } from 'node:child_process';
import { NpEnv, SVC, HOOK } from './np-env.ts';
import { attachNorthSouth } from './np-attach.ts';
import { PROTO } from './packet.ts';

const dev = process.argv[2];
const ifindex = (JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'dev', dev], { encoding: 'utf8' })) as Array<{ ifindex: number }>)[0].ifindex;
const env = await NpEnv.load({}, 'nodeb');
for (const [v, node, pod, base] of [[4, '192.0.2.12', '198.18.2.5', 10], [6, '2001:db8:1::12', '2001:db8:10:2::5', 20]] as const) {
  env.addNodeAddr(node);
  for (const [proto, port, bport] of [[PROTO.TCP, 30085, 8080], [PROTO.UDP, 30055, 5353]] as const) {
    env.addService({ id: base + proto, addr: null, family: v, port, proto, flags: SVC.NODEPORT | SVC.DSR, revAddr: node,
      backends: [{ id: base + proto, addr: pod, port: bport, local: true }] });
  }
}
// Tunnels arrive at tc; XDP would need a program on the bridge side of this veth too.
const att = attachNorthSouth({ xdp: env.xdpProg, tcIngress: env.tcIngress, tcEgress: env.tcEgress }, ifindex, { xdp: false });
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', () => {
  const counters = { ingress: env.counters(HOOK.TC_INGRESS), egress: env.counters(HOOK.TC_EGRESS) };
  att.detach();
  env.close();
  process.stdout.write(`${JSON.stringify(counters)}\n`);
  process.exit(0);
});
