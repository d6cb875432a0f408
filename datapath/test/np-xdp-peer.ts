// Keeps an XDP program attached natively to the bridge side of a veth for as long as stdin stays
// open: a veth delivers XDP_TX/XDP_REDIRECT frames sent by its peer's XDP program only when it
// runs XDP itself. Our own ingress program with empty maps passes everything, so no other object
// is needed. Run inside the namespace of `dev`: node np-xdp-peer.ts <dev>
import { BpfObject, attachXdp } from 'bpf-loader-napi';
import { execFileSync } from 'node:child_process';
import { XDP_OBJ } from './np-env.ts';

const dev = process.argv[2];
const ifindex = (JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'dev', dev], { encoding: 'utf8' })) as Array<{ ifindex: number }>)[0].ifindex;
const coll = await BpfObject.open(XDP_OBJ).load();
const link = attachXdp(coll.program('kpb_xdp_ingress'), ifindex, { mode: 'native' });
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', () => { link.detach(); coll.close(); process.exit(0); });
