#!/usr/bin/python3
"""Issue 5, "what it must show" 3: a pinned function that crashes is
restarted with backoff (growing gaps between restarts); a handler running
past Timeout is killed, the core says why, and the function comes back.

  crasher  pinned, exits 3 at its first 4 starts (FN_START_CRASHES=4)
  victim   pinned, exits 3 inside the handler of a "crash" message
  sleeper  pinned, Timeout 1 s, never returns from a "hang" message
Usage: test_restart.py EDGEML FN_TEST FN_MODEL WORKDIR"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coretest as ct  # noqa: E402


def pid_dead(pid):
    return not ct.pid_alive_fn(pid)


def main():
    edgeml, fn_test, _, work = ct.args()
    t = ct.Tally("core_restart")
    env = ct.Env(edgeml, work, "restart")
    ct.preflight(t, env)

    common = {"FN_STATE": env.state}
    fns = [ct.function("crasher", fn_test, env=dict(common, FN_START_CRASHES="4")),
           ct.function("quitter", fn_test, env=dict(common, FN_START_CRASHES="3",
                                                     FN_START_EXIT="0")),
           ct.function("victim", fn_test, env=common),
           ct.function("sleeper", fn_test, timeout=1, env=common)]
    subs = []
    for f in ("crasher", "quitter", "victim", "sleeper"):
        subs += [("cloud", f"{f}/in", f), (f, f"res/{f}", "cloud")]
    g = env.write_group("group.json", ct.group(fns, subs))
    if not env.deploy_and_start(t, g, "edgeml core starts and answers status",
                                "--backoff-ms", "200", "--grace-ms", "2000"):
        return t.finish()
    sub = ct.Subscriber(env, "res/#")

    # ---- victim: crash inside a handler; queued messages survive --------
    p = sub.sync("victim")
    if t.check("victim answers a probe", p, f"subscriber: {sub.other[-5:]}"):
        pid0 = p["pid"]
        for m in ("crash", "m1", "m2"):
            env.publish("victim/in", m)
        rs = sub.wait(2, 60, fn="victim", pred=lambda r: r["payload"] in ("m1", "m2"))
        t.check("messages queued behind the crashing one are handled after the restart",
                [r["payload"] for r in rs] == ["m1", "m2"], f"got {[r['payload'] for r in rs]}")
        t.check("they are handled by a new process",
                rs and all(r["pid"] != pid0 for r in rs), f"pids {[r['pid'] for r in rs]}")
        t.check("the crashed process is gone", ct.wait_until(lambda: pid_dead(pid0), 10))
        t.check("no result for the crash message",
                not sub.get(fn="victim", pred=lambda r: r["payload"] == "crash"))
        fs = env.fn_status("victim") or {}
        t.check("status: victim restarts == 1", fs.get("restarts") == 1, f"status {fs}")
        t.check("status: victim last_exit names exit status 3",
                "3" in str(fs.get("last_exit", "")), f"last_exit {fs.get('last_exit')!r}")
        t.check("status: victim failed >= 1 (the crash message)",
                (fs.get("failed") or 0) >= 1, f"status {fs}")

    # ---- crasher: 4 crashes at start, growing gaps between restarts -----
    env.publish("crasher/in", "hello")
    rs = sub.wait(1, 120, fn="crasher", pred=lambda r: r["payload"] == "hello")
    st = env.starts("crasher")
    t.check("crasher started 5 times (4 crashes, then up)", len(st) == 5, f"starts {st}")
    if t.check("the message sent while it crash-looped is handled by the 5th process",
               rs and st and rs[0]["pid"] == st[-1][0], f"result {rs[:1]}, starts {st}"):
        gaps = [round(b[1] - a[1]) for a, b in zip(st, st[1:])]
        t.info(f"gaps between starts (ms): {gaps}")
        t.check("each gap between restarts is longer than the one before (backoff grows)",
                len(gaps) == 4 and all(b > a for a, b in zip(gaps, gaps[1:])), f"gaps {gaps}")
    fs = env.fn_status("crasher") or {}
    t.check("status: crasher restarts == 4", fs.get("restarts") == 4, f"status {fs}")
    t.check("status: crasher is running", fs.get("state") == "running", f"status {fs}")
    t.info("core.log on crasher: " + " | ".join(env.core_log_lines(r"crasher")[-6:]))

    # ---- quitter: a pinned function that exits 0 by itself is restarted
    # with the same growing backoff (it must not spin) ---------------------
    env.publish("quitter/in", "hello")
    rs = sub.wait(1, 120, fn="quitter", pred=lambda r: r["payload"] == "hello")
    st = env.starts("quitter")
    t.check("quitter (exits 0 at its first 3 starts) is up at its 4th start", rs and len(st) == 4
            and rs[0]["pid"] == st[-1][0], f"result {rs[:1]}, starts {st}")
    gaps = [round(b[1] - a[1]) for a, b in zip(st, st[1:])]
    t.check("quitter: each gap between restarts is longer than the one before",
            len(gaps) == 3 and all(b > a for a, b in zip(gaps, gaps[1:])), f"gaps {gaps}")

    # ---- sleeper: a handler past Timeout is killed -----------------------
    p = sub.sync("sleeper")
    if t.check("sleeper answers a probe", p):
        pid0 = p["pid"]
        env.publish("sleeper/in", "hang")
        env.publish("sleeper/in", "after")
        rs = sub.wait(1, 60, fn="sleeper", pred=lambda r: r["payload"] == "after")
        t.check("the message behind the hung one is handled", rs)
        t.check("by a new process (the hung one was killed)", rs and rs[0]["pid"] != pid0,
                f"result {rs[:1]}, old pid {pid0}")
        t.check("the hung process is gone", ct.wait_until(lambda: pid_dead(pid0), 10))
        t.check("no result for the hung message",
                not sub.get(fn="sleeper", pred=lambda r: r["payload"] == "hang"))
        fs = env.fn_status("sleeper") or {}
        logs = env.core_log_lines(r"sleeper.*timeout|timeout.*sleeper")
        t.check("status last_exit or core.log says timeout",
                "timeout" in str(fs.get("last_exit", "")).lower() or logs,
                f"last_exit {fs.get('last_exit')!r}, core.log has no sleeper timeout line")
        t.check("status: sleeper restarts >= 1", (fs.get("restarts") or 0) >= 1, f"status {fs}")

    t.check("crasher stayed up (no start after the 5th)", len(env.starts("crasher")) == 5,
            f"starts {env.starts('crasher')}")
    ct.final_stop(t, env, sub)
    return t.finish()


if __name__ == "__main__":
    sys.exit(ct.run(main))
