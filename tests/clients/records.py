"""Shared record scheme of the client scripts (the Rust tests rebuild the same).

Record i of a run tagged `tag`: key "k<i>", value "<tag>-value-<i>", one header
("h", "<i>"). Results are printed as one JSON object on the last stdout line.
"""
import json
import sys
import time


def record(tag, i):
    return ("k%d" % i, "%s-value-%d" % (tag, i), [("h", "%d" % i)])


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def deadline(seconds):
    end = time.monotonic() + seconds
    return lambda: time.monotonic() < end


def text(b):
    if b is None:
        return None
    return b.decode("utf-8", "replace") if isinstance(b, (bytes, bytearray)) else str(b)
