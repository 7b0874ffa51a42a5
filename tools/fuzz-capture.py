#!/usr/bin/env python3
"""Record the frames real Kafka clients exchange with a real broker, as fuzz seeds.

A recording TCP proxy: listens on 127.0.0.1:0, prints its port on stdout, and forwards
every connection to --upstream (a running pipit broker started with
advertised.listeners=PLAINTEXT://127.0.0.1:<this port>, so clients come back through the
proxy for every request). Each request frame (after the 4-byte size) is saved as
OUTDIR/request/<client>-<api>-v<N>-<k>.bin, and each response as
OUTDIR/response/<client>-<api>-v<N>-<k>.bin prefixed with the request's API key and
version (i16 BE each), the input format of the `response` fuzz target. Only the first
--per-api frames of each (API, version) are kept (three times as many Produce and Fetch
frames, which carry the record batches) and frames over --max-bytes are skipped,
so the corpus stays small. Runs until --timeout seconds pass. Python 3 stdlib only.
tools/fuzz.sh capture drives it with kcat, confluent-kafka and kafka-python.
"""
import argparse
import os
import socket
import struct
import threading
import time

API_NAMES = {0: "produce", 1: "fetch", 2: "listoffsets", 3: "metadata", 8: "offsetcommit",
             9: "offsetfetch", 10: "findcoordinator", 11: "joingroup", 18: "apiversions",
             19: "createtopics", 20: "deletetopics", 22: "initproducerid", 32: "describeconfigs",
             37: "createpartitions", 44: "incrementalalterconfigs", 60: "describecluster"}

lock = threading.Lock()
counts = {}


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def save(args, kind, key, version, data):
    if len(data) > args.max_bytes:
        return
    name = API_NAMES.get(key, f"key{key}")
    with lock:
        k = counts.get((kind, key, version), 0)
        if k >= (args.per_api * 3 if key in (0, 1) else args.per_api):
            return
        counts[(kind, key, version)] = k + 1
    path = os.path.join(args.outdir, kind, f"{args.client}-{name}-v{version}-{k}.bin")
    with open(path, "wb") as f:
        f.write(data)


def pump(args, client, upstream):
    pending = {}  # correlation id -> (key, version)

    def requests():
        try:
            while True:
                size = read_exact(client, 4)
                frame = read_exact(client, struct.unpack(">i", size)[0])
                key, version, corr = struct.unpack(">hhi", frame[:8])
                pending[corr] = (key, version)
                save(args, "request", key, version, frame)
                upstream.sendall(size + frame)
        except (EOFError, OSError, struct.error):
            pass
        finally:
            for s in (client, upstream):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    threading.Thread(target=requests, daemon=True).start()
    try:
        while True:
            size = read_exact(upstream, 4)
            frame = read_exact(upstream, struct.unpack(">i", size)[0])
            (corr,) = struct.unpack(">i", frame[:4])
            if corr in pending:
                key, version = pending.pop(corr)
                save(args, "response", key, version, struct.pack(">hh", key, version) + frame)
            client.sendall(size + frame)
    except (EOFError, OSError, struct.error):
        pass
    finally:
        client.close()
        upstream.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--client", required=True)
    ap.add_argument("--upstream", required=True, help="host:port of the broker")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--per-api", type=int, default=2)
    ap.add_argument("--max-bytes", type=int, default=32 * 1024)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    for kind in ("request", "response"):
        os.makedirs(os.path.join(args.outdir, kind), exist_ok=True)
    host, port = args.upstream.rsplit(":", 1)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(16)
    print(srv.getsockname()[1], flush=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        srv.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            client, _ = srv.accept()
        except socket.timeout:
            break
        upstream = socket.create_connection((host, int(port)), timeout=5)
        upstream.settimeout(None)
        threading.Thread(target=pump, args=(args, client, upstream), daemon=True).start()
    srv.close()


if __name__ == "__main__":
    main()
