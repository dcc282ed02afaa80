#!/usr/bin/python3
"""Issue 5: on-demand functions (Pinned false) and invokes, through a real
core with --max-concurrency 3 --idle-timeout-ms 1500.
  od      on-demand; each handler waits on a gate file the test opens
  caller  pinned; invokes od through the SDK on command
Asserts: od is not started before its first message, then started for it;
with 10 messages held at the gate at most 3 processes run and at most 3
handlers are inside at once; warm processes are reused; once idle they are
stopped, and the next message starts a new one; `edgeml invoke` and
edgeml_invoke (request-response) return the handler's reply; an event invoke
is delivered; unknown functions are refused.
Usage: test_ondemand.py EDGEML FN_TEST FN_MODEL WORKDIR"""
import json
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coretest as ct  # noqa: E402

N, CONC = 10, 3


def od_pids(env):
    fs = env.fn_status("od") or {}
    return fs.get("pids") or []


def main():
    edgeml, fn_test, _, work = ct.args()
    t = ct.Tally("core_ondemand")
    env = ct.Env(edgeml, work, "ondemand")
    ct.preflight(t, env, need=("core", "publish", "subscribe", "status", "invoke"))
    gate = os.path.join(env.state, "gate")

    fns = [ct.function("od", fn_test, pinned=False, timeout=120,
                       env={"FN_STATE": env.state, "FN_GATE": gate}),
           ct.function("caller", fn_test, timeout=60, env={"FN_STATE": env.state})]
    subs = [("cloud", "od/in", "od"), ("od", "res/od", "cloud"),
            ("cloud", "caller/in", "caller"), ("caller", "res/caller", "cloud")]
    g = env.write_group("group.json", ct.group(fns, subs))
    if not env.deploy_and_start(t, g, "edgeml core --max-concurrency 3 --idle-timeout-ms 1500 starts",
                                "--backoff-ms", "200", "--max-concurrency", str(CONC),
                                "--idle-timeout-ms", "1500"):
        return t.finish()
    sub = ct.Subscriber(env, "res/#")

    up = sub.sync("caller")
    if not t.check("caller (pinned) is up", up):
        return t.finish()
    t.check("od (on-demand) is not started before its first message",
            not env.starts("od") and not od_pids(env), f"starts {env.starts('od')}")

    # ---- started for messages, at most 3 at once --------------------------
    env.publish("od/in", "o0")
    ent = sub.wait(1, 60, fn="od", phase="enter")
    t.check("the first message starts od", ent and len(env.starts("od")) == 1,
            f"enter {ent[:1]}, starts {env.starts('od')}")
    for i in range(1, N):
        env.publish("od/in", f"o{i}")
    ent = sub.wait(CONC, 60, fn="od", phase="enter")
    t.check(f"{CONC} handlers run at once when 10 messages wait", len(ent) >= CONC,
            f"{len(ent)} entered")
    most_p, most_s, most_e = 0, 0, 0
    end = time.monotonic() + 2.0     # watch for a 4th process while all are held
    while time.monotonic() < end:
        most_p = max(most_p, len(od_pids(env)))
        most_s = max(most_s, len(env.starts("od")))
        most_e = max(most_e, len(sub.get(fn="od", phase="enter")))
        time.sleep(0.1)
    t.check(f"at most {CONC} od processes (status pids, starts)",
            most_p <= CONC and most_s <= CONC, f"pids {most_p}, starts {most_s}")
    t.check(f"at most {CONC} handlers entered while held", most_e == CONC, f"{most_e} entered")
    with open(gate, "w"):
        pass
    done = sub.wait(N, 60, fn="od", pred=lambda r: r["payload"][0] == "o")
    t.check(f"all {N} messages handled once the gate opens", len(done) == N,
            f"{sorted(r['payload'] for r in done)}")
    pids = {r["pid"] for r in done}
    starts = env.starts("od")
    t.check("warm processes are reused: one start per process, at most 3",
            len(pids) <= CONC and len(starts) == len(pids), f"pids {pids}, starts {starts}")
    t.check("od scaled out to more than one process", len(pids) >= 2, f"pids {pids}")
    iv = sorted((r["t0"], r["t1"]) for r in sub.get(fn="od", pred=lambda r: r["payload"][0] == "o"))
    overlap = max(sum(1 for a, b in iv if a <= x < b) for x, _ in iv) if iv else 0
    t.check(f"at most {CONC} handlers overlap in time", overlap <= CONC, f"{overlap}")

    # ---- stopped when idle; the next message starts a new one -------------
    dead = ct.wait_until(lambda: not od_pids(env) and
                         not [p for p in pids if ct.pid_alive_fn(p)], 30, 0.2)
    t.check("idle od processes are stopped (status pids empty, processes gone)", dead,
            f"status pids {od_pids(env)}, alive {[p for p in pids if ct.pid_alive_fn(p)]}")
    fs = env.fn_status("od") or {}
    t.info(f"od idle: {fs}")
    env.publish("od/in", "again")
    r = sub.wait(1, 60, fn="od", pred=lambda r: r["payload"] == "again")
    t.check("the next message starts a new process", r and r[0]["pid"] not in pids
            and len(env.starts("od")) == len(starts) + 1, f"{r[:1]}, starts {env.starts('od')}")

    # ---- invokes ---------------------------------------------------------
    rc, out, err = env.invoke("od", "hello")
    res = ct.parse_result(out) or {}
    t.check("edgeml invoke od returns the handler's reply",
            rc == 0 and res.get("payload") == "hello" and res.get("invoke") == 1
            and res.get("reply") == 1, f"rc {rc}, out {out!r}, err {err!r}")
    rc, out, err = env.invoke("no-such-fn", "x")
    t.check("edgeml invoke of an unknown function fails with a clear line",
            rc != 0 and "no such function" in (out + err).lower(), f"rc {rc}, {out!r} {err!r}")

    def cmd(c):
        env.publish("caller/in", c)
        r = sub.wait(1, 60, fn="caller", pred=lambda r: r["payload"] == c)
        return r[0] if r else {}

    r = cmd("invoke:od:ping")
    try:
        rep = json.loads(r.get("detail", ""))
    except ValueError:
        rep = {}
    t.check("edgeml_invoke request-response from caller returns od's reply",
            r.get("rc") == 0 and rep.get("payload") == "ping" and rep.get("fn") == "od"
            and rep.get("source") in ("caller", ct.ARN.format("caller")), f"{r}")
    r = cmd("invoke:no-such-fn:x")
    t.check("edgeml_invoke of an unknown function -> EDGEML_SDK_E_NOFUNC (-6)",
            r.get("rc") == -6, f"{r}")
    r = cmd("event:od:ev1")
    t.check("edgeml_invoke event returns once the core has it", r.get("rc") == 0, f"{r}")
    ev = sub.wait(1, 60, fn="od", pred=lambda r: r["payload"] == "ev1")
    t.check("the event is handled by od (is_invoke, no reply wanted)",
            ev and ev[0]["invoke"] == 1 and ev[0]["reply"] == 0 and ev[0]["topic"] == "",
            f"{ev[:1]}")

    ct.final_stop(t, env, sub)
    return t.finish()


if __name__ == "__main__":
    sys.exit(ct.run(main))
