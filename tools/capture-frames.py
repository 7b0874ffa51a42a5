#!/usr/bin/env python3
"""Record the request frames a real Kafka client sends, as golden bytes.

Listens on 127.0.0.1:0, prints the port on stdout, accepts one connection and saves
each request frame (the bytes after the 4-byte size prefix) as
OUTDIR/<client>-<api>-v<N>.bin, up to --frames frames, then closes. To get past the
first request it answers ApiVersions like pipit would (the version table below mirrors
src/protocol/versions.rs; v4+ gets the v0 UNSUPPORTED_VERSION fallback); any other
request is recorded and the connection closed. Everything is bounded by --timeout.
Python 3 standard library only.

    python3 tools/capture-frames.py --client kcat --frames 3 OUTDIR   # prints PORT
    kcat -b 127.0.0.1:PORT -L -m 3

The fixtures in tests/fixtures/frames/ were recorded with --frames 3 --timeout 15, each
client run under `timeout 15`, with these clients (PORT = the printed port):
    kcat -b 127.0.0.1:PORT -L -m 3                                  (librdkafka 2.0.2)
    /usr/bin/python3 -c "from kafka import KafkaConsumer; KafkaConsumer(
        bootstrap_servers='127.0.0.1:PORT', request_timeout_ms=4000,
        api_version_auto_timeout_ms=3000).topics()"                  (kafka-python 2.0.2)
    .venv/bin/python -c "from kafka import KafkaConsumer; KafkaConsumer(
        bootstrap_servers='127.0.0.1:PORT', request_timeout_ms=4000).topics()"
                                                                     (kafka-python 3.0.12)
    .venv/bin/python -c "from confluent_kafka.admin import AdminClient; AdminClient(
        {'bootstrap.servers': '127.0.0.1:PORT'}).list_topics(timeout=4)"
                                                                     (confluent-kafka 2.16)
"""
import argparse
import os
import socket
import struct
import sys
import time

API_NAMES = {0: "produce", 1: "fetch", 2: "listoffsets", 3: "metadata", 18: "apiversions",
             19: "createtopics", 20: "deletetopics", 22: "initproducerid"}
# (key, min, max) as advertised by pipit (src/protocol/versions.rs).
TABLE = [(0, 0, 9), (1, 4, 12), (2, 1, 7), (3, 0, 12), (18, 0, 3), (19, 2, 7), (20, 1, 6),
         (32, 1, 4), (33, 0, 2), (37, 0, 3), (44, 0, 1), (60, 0, 1)]


def uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def api_versions_body(version, error=0):
    if version >= 3:
        body = struct.pack(">h", error) + uvarint(len(TABLE) + 1)
        body += b"".join(struct.pack(">hhh", *t) + b"\x00" for t in TABLE)
        return body + struct.pack(">i", 0) + b"\x00"
    body = struct.pack(">hi", error, len(TABLE)) + b"".join(struct.pack(">hhh", *t) for t in TABLE)
    return body + (struct.pack(">i", 0) if version >= 1 else b"")


def read_exact(conn, n, deadline):
    buf = b""
    while len(buf) < n:
        conn.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--client", required=True)
    ap.add_argument("--frames", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    deadline = time.monotonic() + args.timeout
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    print(srv.getsockname()[1], flush=True)
    srv.settimeout(args.timeout)
    conn, _ = srv.accept()
    saved = 0
    try:
        while saved < args.frames and time.monotonic() < deadline:
            (size,) = struct.unpack(">i", read_exact(conn, 4, deadline))
            if not 8 <= size <= 1 << 20:
                break
            frame = read_exact(conn, size, deadline)
            key, version, corr = struct.unpack(">hhi", frame[:8])
            name = f"{args.client}-{API_NAMES.get(key, f'key{key}')}-v{version}.bin"
            with open(os.path.join(args.outdir, name), "wb") as f:
                f.write(frame)
            print(name, file=sys.stderr, flush=True)
            saved += 1
            if key != 18:
                break
            body = api_versions_body(0, 35) if version > 3 else api_versions_body(version)
            payload = struct.pack(">i", corr) + body  # ApiVersions: response header v0
            conn.sendall(struct.pack(">i", len(payload)) + payload)
    except (EOFError, OSError):
        pass
    finally:
        conn.close()
        srv.close()


if __name__ == "__main__":
    main()
