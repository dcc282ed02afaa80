#!/usr/bin/python3
"""A test function speaking the raw protocol (a real peer of the core, as the
SDK would be). For each MSG: payload b"crash" -> exit 3; b"sleep:S" -> sleep S
seconds; b"hang" -> never answers; otherwise publishes the payload on
"out/<topic or 'invoke'>" (if the function may) and answers DONE (result: b"echo:" +
payload). SIGTERM: BYE with the last finished id, exit 0."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ipcpy  # noqa: E402

stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
print("fn_peer: starting", os.environ.get("EDGEML_FUNCTION_ID"), "uid", os.getuid(),
      "prefix", os.environ.get("AWS_GG_RESOURCE_PREFIX"), flush=True)
c = ipcpy.Conn(os.environ["EDGEML_CORE_SOCKET"], timeout=0.2)
c.send(ipcpy.HELLO, [os.environ["EDGEML_TOKEN"], "1"])
last = 0
pid = 1
while not stop:
    try:
        typ, flags, ident, f = c.recv()
    except TimeoutError:
        continue
    except OSError:
        continue
    except EOFError:
        sys.exit(0)
    if typ == ipcpy.WELCOME:
        print("fn_peer: welcome", f[0].decode(), repr(f[1].decode()), flush=True)
        continue
    if typ != ipcpy.MSG:
        continue
    topic, subject, source, payload = f
    if payload == b"crash":
        print("fn_peer: crashing", flush=True)
        os._exit(3)
    if payload.startswith(b"sleep:"):
        time.sleep(float(payload[6:]))
    if payload == b"hang":
        time.sleep(3600)
    out = b"out/" + (topic if topic else b"invoke")
    pid += 1
    c.send(ipcpy.PUBLISH, [out, payload], 0, pid)
    c.send(ipcpy.DONE, [b"", b"echo:" + payload], 0, ident)
    last = ident
c.s.settimeout(2)
c.send(ipcpy.BYE, [str(last)], 0, last)
print("fn_peer: bye after", last, flush=True)
