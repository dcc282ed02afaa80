#!/usr/bin/python3
"""Issue 5: a function's stdout and stderr go to ROOT/logs/functions/<Id>.log, rotated by
size as the group's Loggers say (Component "Lambda", Type "FileSystem", Space in KB): a
chatty function writing ~400 KB with Space 64 leaves files of at most 64 KB, at most 3
rotated ones, every line whole, the newest lines in order at the end of the current file.
Usage: test_logs.py EDGEML FN_TEST FN_MODEL WORKDIR"""
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coretest as ct  # noqa: E402

N_LINES, SPACE_KB = 4000, 64
LINE = re.compile(r"^(out|err) line (\d+) x+$")


def main():
    edgeml, _, _, work = ct.args()
    t = ct.Tally("core_logs")
    env = ct.Env(edgeml, work, "logs")
    ct.preflight(t, env)

    script = env.path("chatty.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\n"
                f"i=0; while [ $i -lt {N_LINES} ]; do\n"
                "  if [ $((i % 2)) = 0 ]; then echo \"out line $i " + "x" * 80 + "\";\n"
                "  else echo \"err line $i " + "x" * 80 + "\" >&2; fi\n"
                "  i=$((i + 1)); done\n"
                "exec sleep 100000\n")
    os.chmod(script, 0o755)
    doc = ct.group([ct.function("chatty", "/bin/sh", exec_args=script)], [])
    doc["Loggers"] = {"Loggers": [{"Id": "fn-logs", "Component": "Lambda", "Level": "INFO",
                                   "Type": "FileSystem", "Space": SPACE_KB}]}
    g = env.write_group("group.json", doc)
    if not env.deploy_and_start(t, g, "edgeml core starts", "--backoff-ms", "200"):
        return t.finish()
    logs = os.path.join(env.root, "logs", "functions")
    last = f"line {N_LINES - 1} "
    t.check("the function's last line reaches its log",
            ct.wait_until(lambda: last in env.fn_log("chatty"), 60), env.fn_log("chatty")[-300:])
    files = sorted(n for n in os.listdir(logs) if n.startswith("chatty.log"))
    t.info(f"files: {[(n, os.path.getsize(os.path.join(logs, n))) for n in files]}")
    t.check("rotated: chatty.log.1 exists", "chatty.log.1" in files, files)
    t.check("at most 3 rotated files kept",
            set(files) <= {"chatty.log", "chatty.log.1", "chatty.log.2", "chatty.log.3"}, files)
    t.check(f"every file is at most Space ({SPACE_KB} KB)",
            all(os.path.getsize(os.path.join(logs, n)) <= SPACE_KB * 1024 for n in files),
            [(n, os.path.getsize(os.path.join(logs, n))) for n in files])
    # oldest to newest: .3 .2 .1 then the current file
    order = sorted((n for n in files if n != "chatty.log"), key=lambda n: -int(n.rsplit(".", 1)[1]))
    order.append("chatty.log")
    lines = []
    for n in order:
        with open(os.path.join(logs, n), errors="replace") as f:
            lines += f.read().splitlines()
    bad = [ln for ln in lines if not LINE.match(ln)]
    t.check("every line is whole (none cut by a rotation)", not bad, bad[:3])
    nums = [int(LINE.match(ln).group(2)) for ln in lines if LINE.match(ln)]
    t.check("stdout and stderr both land there", any(ln.startswith("out ") for ln in lines)
            and any(ln.startswith("err ") for ln in lines))
    t.check("the newest lines come last, none lost after the oldest kept one",
            nums and nums[-1] == N_LINES - 1 and nums == list(range(nums[0], N_LINES)),
            f"{nums[:3]} ... {nums[-3:]} ({len(nums)} lines)")
    t.check("older lines were dropped with the oldest file (bounded)", nums and nums[0] > 0,
            f"first kept line {nums[:1]}")
    ct.final_stop(t, env)
    return t.finish()


if __name__ == "__main__":
    ct.run(main)
