# A service-mesh sidecar in miniature: listens on <port> (IPv4 and IPv6) for connections that the
# pod's own nftables redirected to it, and prints for each the destination the application asked
# for, as the kernel's NAT recorded it (SO_ORIGINAL_DST, which Envoy reads the same way), as one
# JSON line {"original": "<ip> <port>"}. Exits after <count> connections, or after 20 s.
#   usage: original-dst.py <port> <count>
import json
import select
import socket
import struct
import sys

SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h; IP6T_SO_ORIGINAL_DST has the same value

port, count = int(sys.argv[1]), int(sys.argv[2])
listeners = []
for family, host in ((socket.AF_INET, '0.0.0.0'), (socket.AF_INET6, '::')):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, port))
    s.listen(8)
    listeners.append(s)
print('ready', flush=True)
seen = 0
while seen < count:
    ready, _, _ = select.select(listeners, [], [], 20)
    if not ready:
        sys.exit('no connection within 20 s')
    for s in ready:
        conn, _ = s.accept()
        if s.family == socket.AF_INET:
            raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
            dport, = struct.unpack_from('!H', raw, 2)
            addr = socket.inet_ntop(socket.AF_INET, raw[4:8])
        else:
            raw = conn.getsockopt(socket.IPPROTO_IPV6, SO_ORIGINAL_DST, 28)
            dport, = struct.unpack_from('!H', raw, 2)
            addr = socket.inet_ntop(socket.AF_INET6, raw[8:24])
        print(json.dumps({'original': f'{addr} {dport}'}), flush=True)
        conn.close()
        seen += 1
