#!/usr/bin/python3
"""Issue 5, "what it must show" 5 (routing half), through a real core:
wildcard subscriptions (`+` one level anywhere, `#` last and zero-or-more
levels, `a/#` not matching `a`), a function subscribed through several
subscriptions, fan-out to two functions, function-to-function routes, the
subject a message came in on; publishing where no subscription allows is
refused by the SDK (EDGEML_SDK_E_DENIED) and, for a peer that bypasses the
SDK (raw_fn.py), by the core (NACK, counted `denied`); wildcard topics are
refused by the SDK and by `edgeml publish`; a cloud publish with no route is
dropped and counted; stolen and bogus tokens are refused.
Usage: test_routing.py EDGEML FN_TEST FN_MODEL WORKDIR"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coretest as ct  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import ipcraw  # noqa: E402

SUBS = [
    ("cloud", "s/+/x", "fa"), ("cloud", "+/lead", "fa"), ("cloud", "h/#", "fa"),
    ("cloud", "multi/a", "fa"), ("cloud", "multi/+", "fa"), ("cloud", "fan/out", "fa"),
    ("cloud", "fa/in", "fa"),
    ("cloud", "fan/out", "fb"), ("cloud", "fb/in", "id:fb"),  # by Id: edgeml's shorthand
    ("fa", "res/fa", "cloud"), ("fa", "fwd/+", "fb"), ("fa", "forbidden/#", "cloud"),
    ("id:fb", "res/fb", "cloud"), ("fb", "#", "fc"),
    ("fc", "res/fc", "cloud"),
    ("cloud", "fr/in", "fr"), ("fr", "res/fr", "cloud"),
    ("cloud", "bin/#", "cloud"),  # straight back out: what `edgeml subscribe` prints
]

# topic -> {function: the Subject it must come in on}; {} = no route
CASES = [
    ("s/1/x", {"fa": "s/+/x"}), ("s//x", {"fa": "s/+/x"}), ("s/1/2/x", {}), ("s/x", {}),
    ("q/lead", {"fa": "+/lead"}), ("lead", {}), ("q/w/lead", {}), ("$x/lead", {}),
    ("h/1", {"fa": "h/#"}), ("h/1/2/3", {"fa": "h/#"}), ("h/", {"fa": "h/#"}), ("h", {}),
    ("hh/1", {}),
    ("multi/b", {"fa": "multi/+"}),
    ("fan/out", {"fa": "fan/out", "fb": "fan/out"}),
    ("nowhere/x", {}),
]


def main():
    edgeml, fn_test, _, work = ct.args()
    t = ct.Tally("core_routing")
    env = ct.Env(edgeml, work, "routing")
    ct.preflight(t, env)

    fns = [ct.function(f, fn_test, env={"FN_STATE": env.state}) for f in ("fa", "fb", "fc")]
    fns.append(ct.function("fr", ct.PY, exec_args=os.path.join(ct.HERE, "raw_fn.py")))
    g = env.write_group("group.json", ct.group(fns, SUBS))
    if not env.deploy_and_start(t, g, "edgeml core starts", "--backoff-ms", "200"):
        return t.finish()
    sub = ct.Subscriber(env, "res/#")
    allsub = ct.Subscriber(env, "#")

    def sync(fid, topic=None, payload="sync"):
        return sub.sync(fid, topic, payload)

    def cmd(fid, c):
        """Sends command c to fid; its result (or None)."""
        env.publish(f"{fid}/in", c)
        r = sub.wait(1, 30, fn=fid, pred=lambda r: r["payload"] == c)
        return r[0] if r else None

    ok = all([t.check(f"{f} is up", sync(f)) for f in ("fa", "fb")])
    if not ok:
        return t.finish()

    # ---- wildcard cases from cloud ---------------------------------------
    r0 = env.routing()
    replies = []
    for i, (topic, want) in enumerate(CASES):
        rc, out, err = env.publish(topic, f"case-{i}")
        replies.append((rc, (out + err).strip()))
    rc, out, err = env.publish("multi/a", "case-multi")
    for f in ("fa", "fb"):
        sync(f, payload=f"after-cases-{f}")   # in order: every case result is in before it
    r1 = env.routing()
    for i, (topic, want) in enumerate(CASES):
        for f in ("fa", "fb"):
            got = sub.get(fn=f, pred=lambda r: r["payload"] == f"case-{i}")
            if f in want:
                t.check(f"{topic!r} reaches {f} once, on subject {want[f]!r}, from cloud",
                        len(got) == 1 and got[0]["subject"] == want[f]
                        and got[0]["topic"] == topic and got[0]["source"] == "cloud",
                        f"got {[(r['topic'], r['subject'], r['source']) for r in got]}")
            elif got:
                t.check(f"{topic!r} does not reach {f}", False, f"got {got}")
        n = len(want)
        rep = replies[i][1]
        if n == 0:
            t.check(f"{topic!r}: edgeml publish says no route (exit != 0)",
                    "no route" in rep.lower() and replies[i][0] != 0, f"{replies[i]}")
        else:
            t.check(f"{topic!r}: edgeml publish says routed to {n}",
                    f"routed to {n}" in rep and replies[i][0] == 0, f"{replies[i]}")
    got = sub.get(fn="fa", pred=lambda r: r["payload"] == "case-multi")
    subjects = sorted(r["subject"] for r in got)
    t.info(f"'multi/a' (matched by 2 subscriptions of fa) delivered {len(got)}x: {subjects}")
    t.check("'multi/a' reaches fa through one of its 2 matching subscriptions "
            "(if twice, once per subscription)",
            subjects in (["multi/a"], ["multi/+"], ["multi/+", "multi/a"]), f"{subjects}")
    nones = sum(1 for _, w in CASES if not w)
    t.check(f"status routing.no_route counts the {nones} unrouted cloud publishes",
            r1.get("no_route", 0) - r0.get("no_route", 0) == nones, f"before {r0}, after {r1}")

    # ---- function to function ---------------------------------------------
    r = cmd("fa", "pub:fwd/1")
    t.check("fa may publish on fwd/1 (subscription fa -> fb fwd/+)", r and r["rc"] == 0, f"{r}")
    got = sub.wait(1, 30, fn="fb", pred=lambda r: r["topic"] == "fwd/1")
    t.check("fb receives fwd/1 on subject fwd/+ with source fa",
            got and got[0]["subject"] == "fwd/+" and got[0]["source"] in ("fa", ct.ARN.format("fa")),
            f"{got[:1]}")
    r = cmd("fb", "pub:deep/a/b/c")
    t.check("fb may publish anything (subscription fb -> fc '#')", r and r["rc"] == 0, f"{r}")
    got = sub.wait(1, 30, fn="fc", pred=lambda r: r["topic"] == "deep/a/b/c")
    t.check("'#' alone: fc receives deep/a/b/c", got and got[0]["subject"] == "#", f"{got[:1]}")
    got = sub.wait(1, 30, fn="fc", pred=lambda r: r["topic"] == "res/fb")
    t.check("'#' alone: fc also receives fb's results (res/fb)", got)

    # ---- refused publishes --------------------------------------------------
    r = cmd("fa", "pub:not/allowed")
    t.check("SDK: publish with no subscription from fa -> EDGEML_SDK_E_DENIED (-3)",
            r and r["rc"] == -3, f"{r}")
    for topic in ("res/+", "res/#", "fwd/+"):
        r = cmd("fa", f"pub:{topic}")
        t.check(f"SDK: publish on wildcard topic {topic!r} -> EDGEML_SDK_E_TOPIC (-4)",
                r and r["rc"] == -4, f"{r}")
    for topic in ("s/+/x", "h/#", "#", "+"):
        rc, out, err = env.publish(topic, f"wild-{topic}")
        t.check(f"edgeml publish refuses wildcard topic {topic!r}", rc != 0, f"{out}{err}")
    sync("fa", payload="after-wild")
    t.check("no wildcard publish reached fa",
            not sub.get(fn="fa", pred=lambda r: r["payload"].startswith("wild-")))

    # ---- the core's own check: a peer that bypasses the SDK -----------------
    up = sync("fr", payload="noop")
    if t.check("raw_fn (no SDK) is up", up, env.fn_log("fr")[-600:]):
        d0 = env.routing().get("denied", 0)
        r = cmd("fr", "rawpub:forbidden/x")
        t.check("core NACKs a raw publish with no subscription from fr", r and r.get("nack"),
                f"{r}")
        t.info(f"NACK text: {r and r.get('nack')!r}")
        d1 = env.routing().get("denied", 0)
        t.check("status routing.denied counts it", d1 - d0 == 1, f"denied {d0} -> {d1}")
        r = cmd("fr", "rawpub:forbidden/+")
        t.check("core NACKs a raw publish on a wildcard topic", r and r.get("nack"), f"{r}")
        sync("fa", payload="after-raw")
        leaked = [ln for ln in allsub.other if "forbidden" in ln]
        t.check("nothing fr published reached cloud through fa's forbidden/# route", not leaked,
                f"{leaked}")
        # the token of a live process cannot be used by another connection
        tok = up.get("token", "")
        c, f = ipcraw.hello(env.sock, tok, 10)
        t.check("a second connection with fr's live token is refused",
                not (isinstance(f, ipcraw.Frame) and f.name == "WELCOME"), f"{f!r}")
        c.close()
    c, f = ipcraw.hello(env.sock, "0123456789abcdef" * 2, 10)
    t.check("a bogus token is refused (ERROR or close)",
            not (isinstance(f, ipcraw.Frame) and f.name == "WELCOME"), f"{f!r}")
    c.close()
    c = ipcraw.Conn(env.sock)
    c.s.sendall(b"\xff" * 16 + b"garbage")
    try:
        c.recv(10)
    except Exception:
        pass
    c.close()
    t.check("the core still answers status after a malformed frame", env.status() is not None)

    # binary and text payloads as `edgeml subscribe --json` shows them
    import base64
    import json
    blob = bytes([0, 255, 16]) + b"abc\n\x1b"
    with open(env.path("blob.bin"), "wb") as fh:
        fh.write(blob)
    rc, out, err = env.cli("publish", "--root", env.root, "bin/blob", env.path("blob.bin"))
    env.publish("bin/text", "h\u00e9llo")

    def lines_for(topic):
        got = []
        for ln in list(allsub.other):
            try:
                o = json.loads(ln)
            except ValueError:
                continue
            if isinstance(o, dict) and o.get("topic") == topic:
                got.append(o)
        return got
    ct.wait_until(lambda: lines_for("bin/blob") and lines_for("bin/text"), 20)
    b, tx = lines_for("bin/blob"), lines_for("bin/text")
    t.check("subscribe --json: a binary payload comes as base64, byte for byte",
            rc == 0 and len(b) == 1 and b[0].get("encoding") == "base64"
            and base64.b64decode(b[0].get("payload", "")) == blob, f"{rc} {err} {b}")
    t.check("subscribe --json: UTF-8 text comes as a string",
            len(tx) == 1 and tx[0].get("payload") == "h\u00e9llo" and "encoding" not in tx[0],
            f"{tx}")

    for f in ("fa", "fb", "fc"):
        fs = env.fn_status(f) or {}
        t.check(f"status: {f} dropped 0, failed 0", fs.get("dropped") == 0 and fs.get("failed") == 0,
                f"{fs}")
    ct.final_stop(t, env, sub, allsub)
    return t.finish()


if __name__ == "__main__":
    sys.exit(ct.run(main))
