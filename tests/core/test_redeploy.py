#!/usr/bin/python3
"""Issue 5, "what it must show" 4: a redeploy with a new model version while
messages flow. A pinned function (fns/fn_model.c) loads its model resource
(y = x + c; c = 1 in v1, 2 in v2, tar.gz packages from mk_models.py) and
answers each numbered message with y and c. Numbered messages are published
one after another, faster than the function answers them (it sleeps 20 ms
per message), so messages are queued and in flight when `edgeml deploy` of v2
runs in the middle while the publishing goes on.

Asserts: every message published before `edgeml deploy` returned has a
result (none lost), and so has every later one (the function's queue is kept
across the restart); the function restarted exactly once (two processes);
results of the first process use c=1, of the second c=2, and the second's
follow all of the first's; the results arrive in publishing order.
Usage: test_redeploy.py EDGEML FN_TEST FN_MODEL WORKDIR"""
import os
import subprocess
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coretest as ct  # noqa: E402

PRE, POST = 30, 30   # messages before the deploy starts / after it returned


def main():
    edgeml, _, fn_model, work = ct.args()
    t = ct.Tally("core_redeploy")
    env = ct.Env(edgeml, work, "redeploy")
    ct.preflight(t, env)

    pkgs = env.path("pkgs")
    subprocess.run([ct.PY, os.path.join(ct.HERE, "mk_models.py"), pkgs], check=True)
    os.chmod(pkgs, 0o755)

    def doc(v):
        res = ct.model_resource("model", f"file://{pkgs}/model-v{v}.tar.gz")
        fn = ct.function("model-fn", fn_model, timeout=10,
                         env={"FN_STATE": env.state, "FN_OUT": "seq/out",
                              "FN_SLEEP_MS": "20"},
                         policies=[{"ResourceId": "model"}])
        return ct.group([fn], [("cloud", "seq/in", "model-fn"), ("model-fn", "seq/out", "cloud")],
                        [res])

    g1 = env.write_group("group-v1.json", doc(1))
    g2 = env.write_group("group-v2.json", doc(2))
    if not env.deploy_and_start(t, g1, "edgeml core starts", "--backoff-ms", "200",
                                deploy_what="deploy v1"):
        return t.finish()
    sub = ct.Subscriber(env, "seq/out")

    # the function is up and the subscriber listens: negative probes
    up = None
    for k in range(1, 31):
        env.publish("seq/in", str(-k))
        up = sub.wait(1, 1.0, pred=lambda r: r.get("seq", 0) < 0)
        if up:
            break
    if not t.check("model-fn answers a probe", up,
                   f"function log: {env.fn_log('model-fn')[-800:]!r}"):
        return t.finish()
    t.check("v1 is loaded (probe result has c=1)", abs(up[0]["c"] - 1) < 1e-6, f"{up[0]}")

    # ---- the stream, with the redeploy in the middle ---------------------
    dep = {}
    started = threading.Event()

    def redeploy():
        started.set()
        dep["rc"], dep["out"], dep["err"] = env.deploy(g2)
        dep["done"] = True

    pre, post, refused = [], [], []
    th = None
    seq = 0
    while True:
        if seq == PRE:
            th = threading.Thread(target=redeploy, daemon=True)
            th.start()
            started.wait()
        rc, out, err = env.publish("seq/in", str(seq))
        (post if dep.get("done") else pre).append(seq)
        if rc != 0:
            refused.append((seq, out.strip() + err.strip()))
        seq += 1
        if dep.get("done") and len(post) >= POST:
            break
        if seq > PRE + 2000:   # the deploy hangs: stop publishing, report below
            break
    if th:
        th.join(120)
    t.check("edgeml deploy of v2 succeeds while the core runs", dep.get("rc") == 0,
            f"{dep.get('err', 'did not return')!r}")
    t.info(f"deploy said: {dep.get('out', '').strip()}")
    t.info(f"{len(pre)} messages published before deploy returned, {len(post)} after")
    t.check("every publish is routed", not refused, f"refused: {refused[:5]}")

    total = seq
    rs = sub.wait(total, 90, pred=lambda r: r.get("seq", -1) >= 0)
    got = [r["seq"] for r in rs]
    missing_pre = sorted(set(pre) - set(got))
    missing_post = sorted(set(post) - set(got))
    t.check("no message published before the redeploy returned is lost", not missing_pre,
            f"lost {len(missing_pre)}: {missing_pre[:20]}")
    t.check("no message published after it is lost either (queue kept)", not missing_post,
            f"lost {len(missing_post)}: {missing_post[:20]}")
    t.check("results arrive in publishing order, each once", got == sorted(set(got)),
            f"order: {got[:80]}")

    pids = []
    for r in rs:
        if r["pid"] not in pids:
            pids.append(r["pid"])
    starts = env.starts("model-fn")
    t.check("the function restarted exactly once (two processes, two starts)",
            len(pids) == 2 and len(starts) == 2, f"result pids {pids}, starts {starts}")
    if len(pids) == 2:
        first = [r for r in rs if r["pid"] == pids[0]]
        second = [r for r in rs if r["pid"] == pids[1]]
        t.check("the old process used c=1", all(abs(r["c"] - 1) < 1e-6 for r in first),
                f"{[r for r in first if abs(r['c'] - 1) >= 1e-6][:3]}")
        t.check("the new process uses c=2", all(abs(r["c"] - 2) < 1e-6 for r in second),
                f"{[r for r in second if abs(r['c'] - 2) >= 1e-6][:3]}")
        t.check("every result of the new process follows the old one's",
                max(r["seq"] for r in first) < min(r["seq"] for r in second))
        t.check("results published after deploy returned use c=2",
                all(abs(r["c"] - 2) < 1e-6 for r in rs if r["seq"] in set(post)))
        t.info(f"old process handled up to seq {max(r['seq'] for r in first)}, "
               f"new from {min(r['seq'] for r in second)}; "
               f"{len([s for s in pre if s > max(r['seq'] for r in first)])} messages "
               "published before deploy returned waited for the new process")
    t.check("y = x + c in every result", all(abs(r["y"] - r["seq"] - r["c"]) < 1e-3 for r in rs))
    term = env.core_log_lines(r"model-fn.*(SIGTERM|stop|restart)|(SIGTERM|stop|restart).*model-fn")
    t.info("core.log: " + " | ".join(term[-4:]))

    ct.final_stop(t, env, sub)
    return t.finish()


if __name__ == "__main__":
    sys.exit(ct.run(main))
