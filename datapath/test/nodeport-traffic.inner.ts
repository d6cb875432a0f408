// Traffic cases run inside node-a's namespace (see nodeport-traffic.test.ts); never run directly.
// Each mode attaches our programs to a0, sends real TCP and UDP from the client namespace through
// the NodePorts and checks what the echo backend reports as its peer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { attachXdp, attachTc, type Link } from 'bpf-loader-napi';
import { inNetns, sh } from './netns.ts';
import { NpEnv, SVC, HOOK, CNT } from './np-env.ts';
import { PROTO } from './packet.ts';

if (!process.env.KPB_NETNS || !inNetns(process.env.KPB_NETNS)) {
  throw new Error('nodeport-traffic.inner.ts runs only inside the namespace nodeport-traffic.test.ts creates');
}
const CLIENT = process.env.KPB_CLIENT_NS!;
const ECHO = process.env.KPB_ECHO!;
const SNAT_MIN = 61000;
const SNAT_MAX = 61999;

const FAMS = [
  { v: 4 as const, node: '192.0.2.11', podA: '198.18.1.5', podB: '198.18.2.5', client: '192.0.2.100', base: 10 },
  { v: 6 as const, node: '2001:db8:1::11', podA: '2001:db8:10:1::5', podB: '2001:db8:10:2::5', client: '2001:db8:1::100', base: 20 },
];

let env: NpEnv;
let a0 = 0;

before(async () => {
  env = await NpEnv.load({ kpb_snat_port_min: SNAT_MIN, kpb_snat_port_max: SNAT_MAX }, 'traffic');
  a0 = (JSON.parse(sh(['ip', '-j', 'link', 'show', 'dev', 'a0'])) as Array<{ ifindex: number }>)[0].ifindex;
  for (const f of FAMS) {
    env.addNodeAddr(f.node);
    for (const [proto, port, bport] of [[PROTO.TCP, 30080, 8080], [PROTO.UDP, 30053, 5353]] as const) {
      env.addService({ id: f.base + proto, addr: null, family: f.v, port, proto, flags: SVC.NODEPORT, revAddr: f.node,
        backends: [{ id: f.base + proto, addr: f.podB, port: bport, nodeAddr: f.v === 4 ? '192.0.2.12' : '2001:db8:1::12' }] });
      env.addService({ id: f.base + 100 + proto, addr: null, family: f.v, port: port + 1, proto, flags: SVC.NODEPORT, revAddr: f.node,
        backends: [{ id: f.base + 100 + proto, addr: f.podA, port: bport, local: true }] });
    }
    // DSR services (np-dsr-backend-node.ts writes node-b's side of them).
    for (const [proto, port, bport] of [[PROTO.TCP, 30085, 8080], [PROTO.UDP, 30055, 5353]] as const) {
      env.addService({ id: f.base + 200 + proto, addr: null, family: f.v, port, proto, flags: SVC.NODEPORT | SVC.DSR, revAddr: f.node,
        backends: [{ id: f.base + 200 + proto, addr: f.podB, port: bport, nodeAddr: f.v === 4 ? '192.0.2.12' : '2001:db8:1::12' }] });
    }
  }
});
after(() => env?.close());

function client(proto: 'tcp' | 'udp', host: string, port: number): string {
  return sh(['ip', 'netns', 'exec', CLIENT, process.execPath, ECHO, 'client', proto, host, String(port)]).trim();
}

function withLinks<T>(mode: 'xdp+tc' | 'tc', fn: () => T): T {
  const links: Link[] = [];
  try {
    if (mode === 'xdp+tc') links.push(attachXdp(env.xdpProg, a0, { mode: 'native' }));
    links.push(attachTc(env.tcIngress, a0, { direction: 'ingress' }));
    links.push(attachTc(env.tcEgress, a0, { direction: 'egress' }));
    return fn();
  } finally {
    for (const l of links.reverse()) l.detach();
  }
}

for (const mode of ['xdp+tc', 'tc'] as const) {
  for (const f of FAMS) {
    test(`${mode} IPv${f.v}: remote backend (SNAT) answers TCP and UDP; it sees the node address`, () => {
      withLinks(mode, () => {
        const xdpFwd = env.counter(HOOK.XDP, CNT.REMOTE_FWD);
        const tcFwd = env.counter(HOOK.TC_INGRESS, CNT.REMOTE_FWD);
        const sent = env.counter(HOOK.TC_EGRESS, CNT.SENT_BY_US);
        for (const proto of ['tcp', 'udp'] as const) {
          const [seen, port] = client(proto, f.node, proto === 'tcp' ? 30080 : 30053).split(' ');
          assert.equal(seen, f.node, `${proto}: backend saw the SNAT address`);
          assert.ok(Number(port) >= SNAT_MIN && Number(port) <= SNAT_MAX, `${proto}: SNAT port ${port} in range`);
        }
        if (mode === 'xdp+tc') assert.ok(env.counter(HOOK.XDP, CNT.REMOTE_FWD) > xdpFwd, 'XDP forwarded the new flows');
        else {
          assert.ok(env.counter(HOOK.TC_INGRESS, CNT.REMOTE_FWD) > tcFwd, 'tc forwarded the new flows');
          // What tc ingress sent out is passed by tc egress without a second parse (tc_index).
          assert.ok(env.counter(HOOK.TC_EGRESS, CNT.SENT_BY_US) > sent, 'egress recognised the packets ingress sent');
        }
      });
    });

    test(`${mode} IPv${f.v}: remote backend (DSR) answers TCP and UDP directly; it sees the client`, () => {
      withLinks(mode, () => {
        const hook = mode === 'xdp+tc' ? HOOK.XDP : HOOK.TC_INGRESS;
        const encap = env.counter(hook, CNT.DSR_ENCAP);
        for (const [proto, port] of [['tcp', 30085], ['udp', 30055]] as const) {
          const [seen] = client(proto, f.node, port).split(' ');
          assert.equal(seen, f.client, `${proto}: backend saw the client itself (no SNAT)`);
        }
        assert.ok(env.counter(hook, CNT.DSR_ENCAP) > encap, `${mode === 'xdp+tc' ? 'XDP' : 'tc'} encapsulated the flows`);
      });
    });

    test(`${mode} IPv${f.v}: UDP datagrams of 3000, 8192 and 30000 bytes in fragments reach remote (SNAT) and local backends and come back intact`, () => {
      withLinks(mode, () => {
        const hook = mode === 'xdp+tc' ? HOOK.XDP : HOOK.TC_INGRESS;
        const fwd = env.counter(hook, CNT.REMOTE_FWD);
        const local = env.counter(HOOK.TC_INGRESS, CNT.LOCAL_DNAT);
        const frag = env.counter(hook, CNT.FRAGMENT);
        for (const port of [30053, 30054]) {
          for (const size of [3000, 8192, 30000]) {
            const out = sh(['ip', 'netns', 'exec', CLIENT, process.execPath, ECHO, 'big', f.node, String(port), String(size)]).trim();
            assert.equal(out, `intact ${size}`, `${size} bytes to ${port === 30053 ? 'the remote' : 'the local'} backend`);
          }
        }
        // Every fragment was translated: 3 + 6 + 21 of them each way for IPv4 at MTU 1500.
        assert.ok(env.counter(hook, CNT.REMOTE_FWD) - fwd >= 3 + 6 + 21, 'the remote datagrams went through in fragments');
        assert.ok(env.counter(HOOK.TC_INGRESS, CNT.LOCAL_DNAT) - local >= 3 + 6 + 21, 'the local datagrams went through in fragments');
        assert.equal(env.counter(hook, CNT.FRAGMENT), frag, 'no fragment was passed untranslated');
      });
    });

    test(`${mode} IPv${f.v}: local backend (DNAT) answers TCP and UDP; it sees the client`, () => {
      withLinks(mode, () => {
        const egress = env.counter(HOOK.TC_EGRESS, CNT.REPLY_LOCAL);
        for (const proto of ['tcp', 'udp'] as const) {
          const [seen] = client(proto, f.node, proto === 'tcp' ? 30081 : 30054).split(' ');
          assert.equal(seen, f.client, `${proto}: backend saw the client address`);
        }
        assert.ok(env.counter(HOOK.TC_EGRESS, CNT.REPLY_LOCAL) > egress, 'replies were reverse-translated at egress');
      });
    });
  }
}
