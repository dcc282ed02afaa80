#!/usr/bin/python3
"""A function that speaks the protocol itself (no SDK), so it can publish
what the SDK would refuse locally: the core must check again. Started by the
core as `/usr/bin/python3 raw_fn.py` (NoContainer).

Each MSG payload is a command:
  rawpub:TOPIC   PUBLISH on TOPIC; waits (at most 5 s) for the core's NACK
  anything else  nothing
then DONE, then one result on res/<id> (FN_OUT):
  {"fnres":1,"fn":ID,"pid":P,"payload":CMD,"nack":TEXT|null,"token":TOKEN}"""
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import ipcraw  # noqa: E402


def main():
    fid = os.environ.get("EDGEML_FUNCTION_ID", "?")
    token = os.environ.get("EDGEML_TOKEN", "")
    out = os.environ.get("FN_OUT") or f"res/{fid}"
    c, first = ipcraw.hello(os.environ["EDGEML_CORE_SOCKET"], token, 30)
    if not isinstance(first, ipcraw.Frame) or first.name != "WELCOME":
        print(f"raw_fn {fid}: no WELCOME: {first!r}", file=sys.stderr, flush=True)
        return 2
    c.s.settimeout(None)
    pending = []
    next_id = 1000
    while True:
        f = pending.pop(0) if pending else c.recv(10 ** 9)
        if f.name != "MSG":
            continue
        cmd = f.text(3)
        nack = None
        if cmd.startswith("rawpub:"):
            next_id += 1
            c.send("PUBLISH", [cmd[7:], "x"], next_id)
            try:
                while True:
                    g = c.recv(5)
                    if g.name == "NACK" and g.id == next_id:
                        nack = g.text(0)
                        break
                    if g.name == "MSG":
                        pending.append(g)
            except TimeoutError:
                pass
        c.send("DONE", ["", ""], f.id)
        res = {"fnres": 1, "fn": fid, "pid": os.getpid(), "payload": cmd, "nack": nack,
               "token": token, "phase": "done"}
        next_id += 1
        c.send("PUBLISH", [out, json.dumps(res)], next_id)
        print(f"raw_fn {fid}: {cmd} -> nack {nack!r}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ConnectionError, KeyboardInterrupt):
        sys.exit(0)
