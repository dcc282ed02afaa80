#!/usr/bin/python3
"""Issue 5, "what it must show" 5 (queues half): with --max-work-items 5, a
slow function (its handler waits on a gate file the test opens at the end)
receives 50 messages: the overflow is dropped and counted, never blocks the
core (status answers) nor a fast function, which receives all of its 100
messages while the slow one is still inside its first handler. After the
gate opens, handled + dropped = 50, and handled = 5: --max-work-items bounds
all that is buffered for a function (queued and in flight).
Usage: test_overflow.py EDGEML FN_TEST FN_MODEL WORKDIR"""
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coretest as ct  # noqa: E402

N_SLOW, N_FAST, BATCH = 50, 100, 4


def main():
    edgeml, fn_test, _, work = ct.args()
    t = ct.Tally("core_overflow")
    env = ct.Env(edgeml, work, "overflow")
    ct.preflight(t, env)
    gate = os.path.join(env.state, "gate")

    fns = [ct.function("slow", fn_test, timeout=600, env={"FN_STATE": env.state, "FN_GATE": gate,
                                                         "FN_RECORD_DONE": "1"}),
           ct.function("fast", fn_test, env={"FN_STATE": env.state})]
    subs = [("cloud", "slow/in", "slow"), ("slow", "res/slow", "cloud"),
            ("cloud", "fast/in", "fast"), ("fast", "res/fast", "cloud")]
    g = env.write_group("group.json", ct.group(fns, subs))
    if not env.deploy_and_start(t, g, "edgeml core --max-work-items 5 starts",
                                "--backoff-ms", "200", "--max-work-items", "5"):
        return t.finish()
    sub = ct.Subscriber(env, "res/#")

    up = sub.sync("fast")
    if not t.check("fast is up", up):
        return t.finish()

    # ---- slow: one message inside its handler, 49 more behind it ----------
    env.publish("slow/in", "s0")
    ent = sub.wait(1, 60, fn="slow", phase="enter")
    if not t.check("slow is inside its first handler (s0)", ent and ent[0]["payload"] == "s0",
                   f"{ent[:1]}; log {env.fn_log('slow')[-400:]!r}"):
        return t.finish()
    for i in range(1, N_SLOW):
        env.publish("slow/in", f"s{i}")
    st = env.status()
    t.check("the core answers status while slow's queue overflows", st is not None)
    fs = env.fn_status("slow", st) or {}
    d_mid = fs.get("dropped", 0)
    t.info(f"slow while blocked: {fs}")
    t.check("slow: overflow dropped and counted (dropped > 0)", d_mid > 0, f"{fs}")
    t.check("slow: at most 5 buffered (queued + in flight, the one in hand included)",
            0 <= fs.get("queued", -1) and fs.get("queued", 0) + fs.get("inflight", 0) <= 5,
            f"{fs}")

    # ---- fast: all 100 while slow is still blocked -----------------------
    sent = 0
    while sent < N_FAST:
        n = min(BATCH, N_FAST - sent)
        for i in range(sent, sent + n):
            env.publish("fast/in", f"f{i}")
        sent += n
        if len(sub.wait(sent, 30, fn="fast", pred=lambda r: r["payload"][0] == "f")) < sent:
            break
    got = [r["payload"] for r in sub.get(fn="fast", pred=lambda r: r["payload"][0] == "f")]
    t.check(f"fast receives all {N_FAST} of its messages, in order",
            got == [f"f{i}" for i in range(N_FAST)], f"{len(got)} received: {got[-5:]}")
    t.check("... while slow is still inside its first handler",
            not sub.get(fn="slow") and len(sub.get(fn="slow", phase="enter")) == 1
            and not os.path.exists(gate))
    fsf = env.fn_status("fast") or {}
    t.check("fast dropped nothing", fsf.get("dropped") == 0, f"{fsf}")

    # ---- open the gate: handled + dropped = 50 --------------------------
    d = (env.fn_status("slow") or {}).get("dropped", 0)
    t.check("no more drops after the 50 publishes", d == d_mid, f"{d_mid} then {d}")
    with open(gate, "w"):
        pass
    # handled = what slow itself recorded (not what reached cloud)
    ct.wait_until(lambda: len(env.records("slow", "done")) >= N_SLOW - d, 120)
    ct.wait_until(lambda: (env.fn_status("slow") or {}).get("queued") == 0, 30)
    time.sleep(0.5)   # any extra (wrong) result would show up now
    done = env.records("slow", "done")
    fs = env.fn_status("slow") or {}
    t.info(f"slow after the gate: {len(done)} handled; {fs}")
    t.check(f"slow: handled + dropped == {N_SLOW}", len(done) + d == N_SLOW,
            f"handled {len(done)}, dropped {d}")
    t.check("slow: handled exactly 5 (--max-work-items bounds everything buffered for it)",
            len(done) == 5, f"handled {len(done)}")
    idx = [int(r[2][1:]) for r in done]
    t.check("slow: handled in publishing order, s0 first", idx == sorted(idx) and idx[:1] == [0],
            f"{idx}")
    t.check("status: slow done == handled", fs.get("done", len(done)) == len(done), f"{fs}")
    # slow's results (an enter and a done per message) reach the idle cloud
    # listener: a burst of publishes to cloud is not cut to --max-work-items
    ct.wait_until(lambda: len(sub.get(fn="slow")) >= len(done), 10)
    rt = env.routing()
    t.check("the cloud listener receives every result of slow's burst",
            len(sub.get(fn="slow")) == len(done) and rt.get("cloud_dropped", 0) == 0,
            f"{len(sub.get(fn='slow'))} of {len(done)} results arrived; routing {rt}")

    ct.final_stop(t, env, sub)
    return t.finish()


if __name__ == "__main__":
    sys.exit(ct.run(main))
