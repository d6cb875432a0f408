// The sink of forward.ts's live-frames measurement, run inside the fabric namespace on the far side
// of node-a's veth:  node live-sink.ts <live.bpf.o> <device> <canonical frame, hex>
// Attaches live.bpf.c's kpb_live_sink to the device (native XDP; a veth delivers frames its peer
// sends with XDP_TX only when it has an XDP program of its own), prints "ready", and detaches when
// its stdin closes. Every benchmark frame that reaches it is restored to the canonical frame and
// dropped; everything else passes.
import { BpfObject, attachXdp } from 'bpf-loader-napi';
import { sh } from '../../datapath/test/netns.ts';

const [obj, dev, hex] = process.argv.slice(2);
if (!obj || !dev || !hex) throw new Error('usage: live-sink.ts <live.bpf.o> <device> <frame hex>');
const frame = Buffer.from(hex, 'hex');
const coll = await BpfObject.open(obj).setRodata({ kpb_live_frame: frame }).load({});
const ifindex = (JSON.parse(sh(['ip', '-j', 'link', 'show', 'dev', dev])) as Array<{ ifindex: number }>)[0]!.ifindex;
const link = attachXdp(coll.program('kpb_live_sink'), ifindex, { mode: 'native' });
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', () => {
  link.detach();
  coll.close();
  process.exit(0);
});
