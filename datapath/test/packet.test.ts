// The packet builder's checksums are checked against fixed, independently known packets, so the
// BPF fixtures that rely on them stand on something other than the builder agreeing with itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pkt, parse, parseIp, addr16, addrText, addrBytes, inetChecksum, crc32c, fragmentL3, fragInfo, reassembleL3, TCP_FLAGS } from './packet.ts';

test('inetChecksum matches the RFC 1071 worked example', () => {
  // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (one's complement sum), checksum 220d.
  assert.equal(inetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7)), 0x220d);
});

test('ipv4 header checksum matches a known header', () => {
  // The worked example of Wikipedia's "Internet checksum" page: 4500 0073 0000 4000 4011 -> b861.
  const b = pkt().ipv4({ src: '192.168.0.1', dst: '192.168.0.199', ttl: 64, id: 0, tos: 0, totalLength: 0x73, proto: 17 })
    .buildL3();
  assert.equal(b.readUInt16BE(10), 0xb861);
});

test('built TCP/UDP/ICMP packets parse back with valid checksums in both families', () => {
  for (const [src, dst] of [['192.0.2.100', '192.0.2.11'], ['2001:db8:1::100', '2001:db8:1::11']]) {
    const t = parse(pkt().eth().ip({ src, dst }).tcp({ sport: 40000, dport: 30080, flags: TCP_FLAGS.SYN }).payload('hi').build());
    assert.equal(t.tcp?.checksumOk, true);
    assert.equal(t.ip?.src, addrText(addrBytes(src)));
    const u = parse(pkt().eth().ip({ src, dst }).udp({ sport: 5353, dport: 30053 }).payload('x').build());
    assert.equal(u.udp?.checksumOk, true);
    const i = parse(pkt().eth().ip({ src, dst }).icmp({ type: src.includes(':') ? 128 : 8, code: 0, rest: 0x12340001 }).build());
    assert.equal(i.icmp?.checksumOk, true);
  }
});

test('a corrupted byte makes the parser report a bad checksum', () => {
  const b = pkt().eth().ipv4({ src: '192.0.2.100', dst: '192.0.2.11' }).tcp({ sport: 1, dport: 2 }).build();
  b[b.length - 1] ^= 0x40;
  assert.equal(parse(b).tcp?.checksumOk, false);
});

test('addr16 stores IPv4 v4-mapped and IPv6 as is', () => {
  assert.deepEqual(Array.from(addr16('203.0.113.7')), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 203, 0, 113, 7]);
  assert.equal(addrText(addr16('2001:db8::1')), '2001:db8::1');
});

test('ipv6 extension headers are chained and skipped by the parser', () => {
  const b = pkt().eth().ipv6({ src: '2001:db8:1::100', dst: '2001:db8:1::11', ext: [{ type: 0 }, { type: 60 }] })
    .udp({ sport: 1000, dport: 2000 }).payload('abc').build();
  const p = parse(b);
  assert.equal(p.ip?.proto, 17);
  assert.equal(p.udp?.dport, 2000);
  assert.equal(p.udp?.checksumOk, true);
});

test('fragmentL3 splits at the MTU on 8-byte boundaries and reassembleL3 gives the datagram back', () => {
  for (const [src, dst] of [['192.0.2.100', '192.0.2.11'], ['2001:db8:1::100', '2001:db8:1::11']]) {
    const payload = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff);
    const l3 = pkt().ip({ src, dst }).udp({ sport: 5000, dport: 30053 }).payload(payload).buildL3();
    const frags = fragmentL3(l3, 1500, 0x1234);
    assert.equal(frags.length, 3);
    for (const f of frags) assert.ok(f.length <= 1500, `fragment of ${f.length} bytes`);
    const infos = frags.map((f) => fragInfo(f)!);
    assert.deepEqual(infos.map((i) => i.more), [true, true, false]);
    assert.equal(infos[0].offset, 0);
    for (const i of infos.slice(1)) assert.equal(i.offset % 8, 0);
    if (!src.includes(':')) for (const f of frags) assert.equal(inetChecksum(f.subarray(0, 20)), 0, 'fragment header checksum');
    const back = reassembleL3([frags[2], frags[0], frags[1]]);
    const hl = src.includes(':') ? 40 : 20;
    assert.deepEqual(back.subarray(hl), l3.subarray(hl), 'the datagram after the header');
    assert.equal(back.length, l3.length);
    if (!src.includes(':')) assert.equal(inetChecksum(back.subarray(0, 20)), 0, 'reassembled header checksum');
    assert.equal(parseIp(back).udp?.checksumOk, true);
    assert.throws(() => reassembleL3([frags[0], frags[2]]), /expected/);
  }
});

test('crc32c matches the RFC 3720 check values, and built SCTP packets verify', () => {
  // RFC 3720 B.4: 32 bytes of zeros -> 0x8a9136aa; 32 bytes of 0xff -> 0x62a8ab43; "123456789" -> 0xe3069283.
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  for (const [src, dst] of [['192.0.2.100', '192.0.2.11'], ['2001:db8:1::100', '2001:db8:1::11']]) {
    const b = pkt().eth().ip({ src, dst }).sctp({ sport: 5000, dport: 30132 }).build();
    const p = parse(b);
    assert.equal(p.ip?.proto, 132);
    assert.deepEqual([p.sctp?.sport, p.sctp?.dport, p.sctp?.checksumOk], [5000, 30132, true]);
    b[b.length - 1] ^= 1;
    assert.equal(parse(b).sctp?.checksumOk, false);
  }
});
