#!/usr/bin/python3
"""src/run through its test driver: container isolation, NoContainer links,
spawn failures. usage: test_run.py container|nocontainer|failures SPAWN_TOOL PROBE

Real processes, namespaces, mounts and the memory cgroup; needs root (exit 77
otherwise). Prints one line per check and a closing 'N passed, N failed'."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import etest  # noqa: E402

PART, TOOL, PROBE = sys.argv[1], sys.argv[2], sys.argv[3]
UID, GID, GROUP = 4000, 4000, 4321
T = etest.Tally()
check = T.check


def make_root():
    root = tempfile.mkdtemp(prefix="edgeml-run-")
    os.chmod(root, 0o755)
    # store views like src/deploy makes them: root-owned, group GroupOwner, 0550/0440
    for view, mode, files in (("aaa.ro", 0o550, {"model.bin": "model-v1\n"}),
                              ("bbb.rw", 0o770, {}),
                              ("ccc.secret", 0o550, {"secret.txt": "secret\n"})):
        d = os.path.join(root, "store", view)
        os.makedirs(d)
        for n, text in files.items():
            with open(os.path.join(d, n), "w") as f:
                f.write(text)
            os.chown(os.path.join(d, n), 0, GROUP)
            os.chmod(os.path.join(d, n), 0o660 if mode == 0o770 else 0o440)
        os.chown(d, 0, GROUP)
        os.chmod(d, mode)
    os.makedirs(os.path.join(root, "resources"))
    for r, view in (("R1", "aaa.ro"), ("R2", "bbb.rw"), ("R3", "ccc.secret")):
        os.symlink("../store/" + view, os.path.join(root, "resources", r))
    code = os.path.join(root, "code", "F")
    os.makedirs(code)
    shutil.copy(PROBE, os.path.join(code, "probe"))
    os.chmod(os.path.join(code, "probe"), 0o755)
    os.makedirs(os.path.join(root, "run"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(os.path.join(root, "run", "core.sock"))
    sock.listen(16)
    os.chmod(os.path.join(root, "run", "core.sock"), 0o666)
    return root, sock


def cgroup_leftovers(fid):
    """edgeml-<pid>-<fid> cgroup directories anywhere under the memory hierarchies."""
    found = []
    for base in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup"):
        if not os.path.isdir(base):
            continue
        for dirpath, dirnames, _ in os.walk(base):
            for d in dirnames:
                if d.startswith("edgeml-") and d.endswith("-" + fid):
                    found.append(os.path.join(dirpath, d))
            if dirpath.count("/") > 8:
                dirnames[:] = []
    return found


def spawn(args, cmds, stdin_lines=(), wait_for=None, timeout=30, preexec=None):
    """Runs the driver; returns (lines, returncode). stdin_lines are sent
    once a line containing wait_for has been printed (or at once)."""
    p = subprocess.Popen([TOOL, "run"] + args + ["--"] + cmds, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         preexec_fn=preexec)
    lines = []
    sent = False
    deadline = time.time() + timeout
    hooks = []
    for line in p.stdout:
        line = line.rstrip("\n")
        lines.append(line)
        if not sent and wait_for and wait_for in line:
            for h in hooks:
                h()
            for s in stdin_lines:
                if callable(s):
                    s()
                else:
                    p.stdin.write(s + "\n")
                    p.stdin.flush()
            sent = True
        if time.time() > deadline:
            p.kill()
            break
    p.stdin.close()
    rc = p.wait()
    return lines, rc


def line_of(lines, prefix):
    for l in lines:
        if l.startswith(prefix):
            return l
    return ""


def procs_with(token):
    n = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if token.encode() in f.read():
                    n += 1
        except OSError:
            pass
    return n


def kill_tree_check(name, args, cmd_prefix):
    token = f"tok{os.getpid()}{name}"
    seen = {}

    def look():
        time.sleep(0.2)
        seen["n"] = procs_with(token)
    lines, rc = spawn(args, [cmd_prefix, f"tree={token}"], [look, "KILL"], wait_for="tree: ready")
    check(f"{name}: the tree was running before the kill", seen.get("n", 0) >= 2, f"{seen} {lines}")
    fin = line_of(lines, "finish:")
    check(f"{name}: SIGKILL ends it", "killed by signal 9 (SIGKILL)" in fin, lines)
    left = procs_with(token)
    for _ in range(50):
        if left == 0:
            break
        time.sleep(0.02)
        left = procs_with(token)
    check(f"{name}: nothing of the tree is left", left == 0, f"{left} processes with {token}")


def container(root):
    fid = f"Fc{os.getpid()}"
    base = ["--root", root, "--id", fid, "--container", "--code", f"{root}/code/F",
            "--sock", f"{root}/run/core.sock", "--uid", str(UID), "--gid", str(GID),
            "--group", str(GROUP),
            "--bind", f"r:{root}/resources/R1:/data/ro",
            "--bind", f"r:{root}/resources/R2:/data/rw:rw",
            "--bind", f"d:/dev/tty:/dev/tty", "--mem", str(64 << 20)]
    probe = "/edgeml/code/probe"
    lines, rc = spawn(base, [probe, "read=/data/ro/model.bin", "write=/data/ro/new",
                             "append=/data/ro/model.bin", "write=/data/rw/out.txt",
                             f"exists={root}/resources/R3/secret.txt", f"exists={root}",
                             "exists=/root", "exists=/home", "exists=/var", "ls=/data", "ids", "devs",
                             "hostname", "pids", "ls=/proc", "cwd", "ls=/tmp", "write=/tmp/x",
                             "write=/newfile", "write=/usr/newfile", "write=/etc/hostname",
                             "connect=/run/edgeml/core.sock", "ls=/"])
    out = "\n".join(lines)
    check("container: spawned", "spawn: ok" in lines, out)
    check("container: reads its ro resource", "read /data/ro/model.bin: ok model-v1" in lines, out)
    for what in ("write /data/ro/new", "append /data/ro/model.bin"):
        l = line_of(lines, what + ":")
        check(f"container: {what} refused (EROFS/EACCES)", l.endswith("ERR EROFS") or l.endswith("ERR EACCES"), l)
    check("container: rw resource writable", "write /data/rw/out.txt: ok" in lines, out)
    st = os.stat(f"{root}/store/bbb.rw/out.txt") if os.path.exists(f"{root}/store/bbb.rw/out.txt") else None
    check("container: the rw write reached the store as the RunAs uid", st is not None and st.st_uid == UID, st)
    for p in (f"{root}/resources/R3/secret.txt", root, "/root", "/home", "/var"):
        check(f"container: cannot see {p}", f"exists {p}: ERR ENOENT" in lines, line_of(lines, f"exists {p}:"))
    check("container: only attached resources under /data", "ls /data: ro rw" in lines, line_of(lines, "ls /data"))
    check("container: RunAs uid/gid, GroupOwner in groups", f"ids: uid={UID} gid={GID} groups={GROUP}" in lines,
          line_of(lines, "ids:"))
    check("container: /dev has only the allowed nodes + the declared device",
          "devs /dev: full null random tty urandom zero" in lines, line_of(lines, "devs"))
    check("container: hostname is the function id", f"hostname: {fid}" in lines, line_of(lines, "hostname"))
    check("container: pid 2, parent our init (pid 1)", "pids: pid=2 ppid=1" in lines, line_of(lines, "pids"))
    procs = line_of(lines, "ls /proc:").split()
    pids = sorted(int(x) for x in procs if x.isdigit())
    check("container: fresh /proc shows only the namespace", pids == [1, 2], pids)
    check("container: working directory is the code dir", "cwd: /edgeml/code" in lines, line_of(lines, "cwd"))
    check("container: private empty /tmp, writable", "ls /tmp:" in lines and "write /tmp/x: ok" in lines,
          line_of(lines, "ls /tmp"))
    for p in ("/newfile", "/usr/newfile", "/etc/hostname"):
        l = line_of(lines, f"write {p}:")
        check(f"container: {p} not writable", "ERR EROFS" in l or "ERR EACCES" in l, l)
    check("container: core socket reachable at /run/edgeml/core.sock",
          "connect /run/edgeml/core.sock: ok" in lines, line_of(lines, "connect"))
    top = line_of(lines, "ls /:").split()[2:]
    check("container: root holds only system dirs and ours",
          set(top) <= {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "tmp", "proc",
                       "edgeml", "run", "data"}, top)
    check("container: exit status 0", line_of(lines, "finish:") == "finish: oom=0 why=exited with status 0",
          line_of(lines, "finish:"))
    check("container: cgroup removed", not cgroup_leftovers(fid), cgroup_leftovers(fid))

    # memory limit
    mem = [a if a != str(64 << 20) else str(16 << 20) for a in base]
    lines, rc = spawn(mem, [probe, "alloc=128"])
    fin = line_of(lines, "finish:")
    check("container: killed over MemorySize, reason reported",
          fin == "finish: oom=1 why=killed: over its MemorySize of 16384 KB (memory cgroup OOM kill)", lines)
    check("container: the allocation never completed", "alloc 128: ok" not in lines, lines)
    check("container: cgroup removed after the OOM kill", not cgroup_leftovers(fid), cgroup_leftovers(fid))
    lines, rc = spawn(mem, [probe, "alloc=4"])
    check("container: under the limit runs fine", "alloc 4: ok" in lines and "oom=0" in line_of(lines, "finish:"),
          lines)

    # signals
    lines, rc = spawn(base, [probe, "waitterm"], ["TERM"], wait_for="waitterm: ready")
    check("container: SIGTERM reaches the function through the init", "waitterm: got SIGTERM" in lines, lines)
    check("container: ...and it exits on its own terms", line_of(lines, "finish:").endswith("exited with status 0"),
          lines)
    lines, rc = spawn(base, [probe, "exit=3"])
    check("container: exit status passed through", line_of(lines, "finish:").endswith("exited with status 3"), lines)
    lines, rc = spawn(base, [probe, "sig=11"])
    check("container: function's signal reported", line_of(lines, "finish:").endswith("killed by signal 11 (SIGSEGV)"),
          lines)
    kill_tree_check("container", base, probe)
    check("container: no cgroup left at the end", not cgroup_leftovers(fid), cgroup_leftovers(fid))


def nocontainer(root):
    fid = f"Fn{os.getpid()}"
    fdir = f"{root}/functions/{fid}"
    base = ["--root", root, "--id", fid, "--uid", str(UID), "--gid", str(GID), "--group", str(GROUP),
            "--bind", f"r:{root}/resources/R1:/data/models/ro",
            "--bind", f"r:{root}/resources/R2:/data/rw:rw",
            "--env", f"AWS_GG_RESOURCE_PREFIX={fdir}"]
    probe = f"{root}/code/F/probe"
    lines, rc = spawn(base, [probe, "read=@/data/models/ro/model.bin", "write=@/data/rw/n.txt", "cwd", "ids",
                             "env=AWS_GG_RESOURCE_PREFIX", "write=@/data/models/ro/new"])
    check("nocontainer: spawned", "spawn: ok" in lines, lines)
    check("nocontainer: finds its resource through AWS_GG_RESOURCE_PREFIX + DestinationPath",
          "read @/data/models/ro/model.bin: ok model-v1" in lines, lines)
    check("nocontainer: rw resource writable through its link", "write @/data/rw/n.txt: ok" in lines, lines)
    l = line_of(lines, "write @/data/models/ro/new:")
    check("nocontainer: ro store view not writable", "ERR EACCES" in l, l)
    check("nocontainer: runs in ROOT/functions/<Id>", f"cwd: {fdir}" in lines, line_of(lines, "cwd"))
    check("nocontainer: RunAs uid/gid + GroupOwner", f"ids: uid={UID} gid={GID} groups={GROUP}" in lines,
          line_of(lines, "ids"))
    link = f"{fdir}/data/models/ro"
    check("nocontainer: the resource is a symlink to ROOT/resources/<Id>",
          os.path.islink(link) and os.readlink(link) == f"{root}/resources/R1",
          os.readlink(link) if os.path.islink(link) else "missing")
    check("nocontainer: function dir owned by the RunAs user", os.stat(fdir).st_uid == UID, os.stat(fdir))
    check("nocontainer: exit 0", line_of(lines, "finish:").endswith("exited with status 0"), lines)

    # a redeploy that moves the resource elsewhere: the old link is replaced
    base2 = [a.replace("resources/R1:", "resources/R3:") for a in base]
    lines, rc = spawn(base2, [probe, "read=@/data/models/ro/secret.txt"])
    check("nocontainer: an existing link is replaced on the next spawn",
          "read @/data/models/ro/secret.txt: ok secret" in lines, lines)
    # a function that planted a symlink where a directory is needed gets an error, not an escape
    os.makedirs(f"{root}/escape", exist_ok=True)
    os.symlink(f"{root}/escape", f"{fdir}/evil")
    lines, rc = spawn(base + ["--bind", f"r:{root}/resources/R1:/evil/x"], [probe])
    check("nocontainer: a planted symlink is not followed", rc == 3 and not os.listdir(f"{root}/escape"), lines)

    # with a memory limit outside a container too
    lines, rc = spawn(base + ["--mem", str(16 << 20)], [probe, "alloc=128"])
    check("nocontainer: memory limit enforced", "oom=1" in line_of(lines, "finish:"), lines)
    check("nocontainer: cgroup removed", not cgroup_leftovers(fid), cgroup_leftovers(fid))

    lines, rc = spawn(base, [probe, "waitterm"], ["TERM"], wait_for="waitterm: ready")
    check("nocontainer: SIGTERM reaches the function", "waitterm: got SIGTERM" in lines, lines)
    kill_tree_check("nocontainer", base, probe)


def failures(root):
    def one_line(lines):
        errs = [l for l in lines if l.startswith("spawn: error:")]
        return len(lines) == 1 and len(errs) == 1

    fid = f"Fx{os.getpid()}"
    cbase = ["--root", root, "--id", fid, "--container", "--code", f"{root}/code/F", "--uid", str(UID),
             "--gid", str(GID), "--mem", str(32 << 20)]
    lines, rc = spawn(cbase, ["/edgeml/code/nope"])
    check("failures: container, missing executable: one clear line",
          rc == 3 and one_line(lines) and lines[0] == f"spawn: error: function {fid}: exec /edgeml/code/nope: "
          "No such file or directory", lines)
    check("failures: ...no cgroup left", not cgroup_leftovers(fid), cgroup_leftovers(fid))

    lines, rc = spawn(cbase + ["--bind", f"r:{root}/resources/NOPE:/data/x"], ["/edgeml/code/probe"])
    check("failures: bad bind source: one line naming it",
          rc == 3 and one_line(lines) and f"bind {root}/resources/NOPE -> /data/x: No such file or directory"
          in lines[0], lines)
    check("failures: ...no cgroup left", not cgroup_leftovers(fid), cgroup_leftovers(fid))

    lines, rc = spawn(cbase + ["--bind", f"r:{root}/resources/R1:/usr/share/edgeml-x"], ["/edgeml/code/probe"])
    check("failures: a destination inside a read-only system dir fails in the child, one line",
          rc == 3 and one_line(lines) and "/usr/share/edgeml-x" in lines[0] and "Read-only file system" in lines[0],
          lines)
    check("failures: ...no cgroup left", not cgroup_leftovers(fid), cgroup_leftovers(fid))
    check("failures: ...the host was not touched", not os.path.exists("/usr/share/edgeml-x"))

    lines, rc = spawn(cbase + ["--bind", f"r:{root}/resources/R1:data/../x"], ["/edgeml/code/probe"])
    check("failures: relative destination refused", rc == 3 and one_line(lines) and "absolute" in lines[0], lines)
    lines, rc = spawn(cbase + ["--bind", f"r:{root}/resources/R1:/data/../etc"], ["/edgeml/code/probe"])
    check("failures: '..' destination refused", rc == 3 and one_line(lines) and "'..'" in lines[0], lines)

    nid = f"Fy{os.getpid()}"
    os.makedirs(f"{root}/functions", exist_ok=True)
    lines, rc = spawn(["--root", root, "--id", nid, "--bind", f"r:{root}/resources/R1:/data/ro",
                       "--mem", str(32 << 20)], [f"{root}/code/F/nope"])
    check("failures: NoContainer, missing executable: one clear line",
          rc == 3 and one_line(lines) and f"exec {root}/code/F/nope: No such file or directory" in lines[0], lines)
    check("failures: ...its function dir removed", not os.path.exists(f"{root}/functions/{nid}"),
          os.listdir(f"{root}/functions"))
    check("failures: ...no cgroup left", not cgroup_leftovers(nid), cgroup_leftovers(nid))

    lines, rc = spawn(["--root", root, "--id", "bad/id"], ["/bin/true"])
    check("failures: an id with '/' refused", rc == 3 and one_line(lines), lines)

    def nobody():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    lines, rc = spawn(["--root", root, "--id", nid, "--uid", str(UID), "--gid", str(GID)], ["/bin/true"],
                      preexec=nobody)
    check("failures: non-root core asked for another uid: one clear line",
          rc == 3 and one_line(lines) and "cannot run as 4000:4000: the core is not root" in lines[0], lines)
    lines, rc = spawn(["--root", root, "--id", nid, "--uid", "65534", "--gid", "65534", "--group", str(GROUP)],
                      ["/bin/true"], preexec=nobody)
    check("failures: non-root core asked for a group it lacks: one clear line",
          rc == 3 and one_line(lines) and f"cannot add group {GROUP}" in lines[0], lines)
    lines, rc = spawn(["--root", root, "--id", nid, "--container", "--uid", "65534", "--gid", "65534"],
                      ["/bin/true"], preexec=nobody)
    check("failures: non-root core asked for a container: one clear line",
          rc == 3 and one_line(lines) and "GreengrassContainer needs root" in lines[0], lines)


def main():
    etest.need_root("namespaces, mounts, cgroups, RunAs")
    root, sock = make_root()
    try:
        {"container": container, "nocontainer": nocontainer, "failures": failures}[PART](root)
    finally:
        sock.close()
        subprocess.run(["rm", "-rf", root])
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
