#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A HOSTILE-PEER DOUBLE of the portal's record endpoint (h2c, python3-h2).

Not the portal: the real one is tunwarden-portal. This double exists for the
faults a correct portal cannot produce on demand (docs/protocol.md 4.5, 4.6,
6.1): garbage ack lines, acks beyond what was sent, acks that stall, 503 with
retry-after, a resume point past the journal, lost data. In the default mode
it stores records idempotently by seq in an NDJSON file (fsync'd before the
ack) so a scenario can compare it with the journal; in the modes whose acks are
broken (garbage, beyond, stall, bad_record) it stores nothing, so its resume
point on a later stream never acknowledges those records either.

usage: portal_double.py PORT STORE MODE
MODE: normal | garbage | beyond | stall | 503 | 404 | bad_record | ahead | lost |
      goaway (once, after the first ack)
The policy endpoint is not faulted: with TW_DOUBLE_POLICY naming a snapshot file it answers
every policy GET with that snapshot as one line and keeps the stream open (the node takes the
same version again as a confirmation), so the node has the policy its hook requests need.
With TW_DOUBLE_CERT, TW_DOUBLE_KEY and TW_DOUBLE_CA set it speaks TLS (ALPN h2, client
certificate required); a gzip request body is inflated.
"""
import json
import os
import socket
import ssl
import sys
import threading
import zlib

import h2.config
import h2.connection
import h2.events

port, store, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]

seqs = {}
if os.path.exists(store):
    with open(store) as f:
        for line in f:
            r = json.loads(line)
            seqs[r["seq"]] = line
out = open(store, "a")
lock = threading.Lock()
goaway_sent = False
policy_line = None
if os.environ.get("TW_DOUBLE_POLICY"):
    with open(os.environ["TW_DOUBLE_POLICY"]) as f:
        pol = json.load(f)
    pol["type"] = "snapshot"
    policy_line = json.dumps(pol, separators=(",", ":")).encode() + b"\n"


def held():
    return max(seqs) if seqs else 0


def serve(sock):
    global goaway_sent
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    conn.increment_flow_control_window(16 << 20)
    sock.sendall(conn.data_to_send())
    bufs = {}
    zs = {}
    while True:
        data = sock.recv(65536)
        if not data:
            return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                sid = ev.stream_id
                bufs[sid] = b""
                if b"/policy" in dict(ev.headers).get(b":path", b""):
                    if policy_line is None:
                        conn.send_headers(sid, [(":status", "404")], end_stream=True)
                        continue
                    conn.send_headers(sid, [(":status", "200"),
                                            ("content-type", "application/x-ndjson")])
                    conn.send_data(sid, policy_line)
                    continue
                if (b"content-encoding", b"gzip") in ev.headers:
                    zs[sid] = zlib.decompressobj(wbits=31)
                    print("request body: gzip", flush=True)
                if mode in ("503", "404"):
                    conn.send_headers(sid, [(":status", mode), ("retry-after", "2"),
                                            ("content-type", "application/json")])
                    conn.send_data(sid, b'{"error":"unavailable","message":"down for a test"}'
                                   if mode == "503" else
                                   b'{"error":"unknown_node","message":"no node e2e-node"}',
                                   end_stream=True)
                    continue
                r = held()
                if mode == "ahead":
                    r = 10**9
                elif mode == "lost":
                    r = 0
                conn.send_headers(sid, [(":status", "200"),
                                        ("content-type", "application/x-ndjson"),
                                        ("tunwarden-resume-after", str(r))])
            elif isinstance(ev, h2.events.DataReceived):
                with lock:
                    sid = ev.stream_id
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                    bufs[sid] += zs[sid].decompress(ev.data) if sid in zs else ev.data
                    *lines, bufs[sid] = bufs[sid].split(b"\n")
                    last = first = 0
                    for line in lines:
                        if not line:
                            continue
                        r = json.loads(line)
                        last = r["seq"]
                        first = first or last
                        # a double whose acks are broken holds nothing: its resume point
                        # on the next stream must not ack what the node never saw acked
                        if mode in ("bad_record", "garbage", "beyond", "stall"):
                            continue
                        if r["seq"] not in seqs:
                            seqs[r["seq"]] = line.decode() + "\n"
                            out.write(seqs[r["seq"]])
                    out.flush()
                    os.fsync(out.fileno())
                if not last or mode == "stall":
                    continue
                if mode == "bad_record":
                    # refuse the first record it got; store nothing of this batch
                    conn.send_data(sid, b'{"error":"bad_record","seq":%d,"message":'
                                   b'"\\"kind\\": unknown kind, got \\"helth\\""}\n' % first,
                                   end_stream=True)
                    continue
                if mode == "garbage":
                    conn.send_data(sid, b'{"ack":"twelve"}\n')
                elif mode == "beyond":
                    conn.send_data(sid, b'{"ack":%d}\n' % (last + 1000))
                else:
                    conn.send_data(sid, b'{"ack":%d}\n' % last)
                if mode == "goaway" and not goaway_sent:
                    goaway_sent = True
                    conn.close_connection()  # GOAWAY NO_ERROR; the open stream goes on
                    print("GOAWAY sent", flush=True)
            elif isinstance(ev, h2.events.StreamEnded):
                pass
        sock.sendall(conn.data_to_send())


ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(4)
ctx = None
if os.environ.get("TW_DOUBLE_CERT"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.environ["TW_DOUBLE_CERT"], os.environ["TW_DOUBLE_KEY"])
    ctx.load_verify_locations(os.environ["TW_DOUBLE_CA"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["h2"])
print("listening", flush=True)


def handle(s):
    try:
        if ctx:
            s = ctx.wrap_socket(s, server_side=True)
            print("TLS peer", s.getpeercert()["subject"], s.version(), flush=True)
        serve(s)
    except Exception as e:  # a reset by the node is expected in the fault modes
        print("connection ended:", e, flush=True)
    s.close()


while True:
    s, _ = ls.accept()
    threading.Thread(target=handle, args=(s,), daemon=True).start()
