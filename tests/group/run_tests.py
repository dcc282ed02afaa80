#!/usr/bin/python3
"""edgeml validate: one test per rule (fixtures/rules/*.json, each carrying its
expected lines in "_expect"), the full v1 export, usage, malformed JSON and
hostile documents. Usage: run_tests.py EDGEML [FILTER]. Last line:
"N passed, N failed"; exit status 1 when any failed."""
import copy, json, os, re, subprocess, sys, tempfile, time
sys.setrecursionlimit(20000)

EDGEML = sys.argv[1]
FILTER = sys.argv[2] if len(sys.argv) > 2 else ""
HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
FULL = os.path.join(FIX, "full_v1_export.json")
TMP = tempfile.mkdtemp(prefix="edgeml-group-")
passed = failed = 0

def run(args, timeout=20):
    t = time.monotonic()
    p = subprocess.run([EDGEML, "validate"] + args, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"), time.monotonic() - t

def test(name):
    def deco(fn):
        global passed, failed
        if FILTER and FILTER not in name:
            return fn
        try:
            fn()
            passed += 1
            print("ok   " + name)
        except Exception as e:  # AssertionError or a timeout: both a failure
            failed += 1
            print("FAIL %s: %s" % (name, str(e)[:2000]))
        return fn
    return deco

def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode())
    return path

LINE = re.compile(r"^[^\x00-\x1f\x7f]*$")

def check_clean(rc, out, err, path):
    """rc 0/1, every stdout line starts with the file name and is one clean
    line, stderr is at most one edgeml summary line."""
    assert rc in (0, 1), "rc %d (crash?) stderr=%r" % (rc, err[-300:])
    base = os.path.basename(path)
    for l in out.splitlines():
        assert l.startswith(path + ":") or l.startswith(base + ":"), "stray line %r" % l
        assert LINE.match(l), "control bytes in %r" % l
    assert len(err.splitlines()) <= 1, "stderr: %r" % err[:500]
    assert "Sanitizer" not in err and "runtime error" not in err, err[:500]

# ---- one test per rule ----
for fname in sorted(os.listdir(os.path.join(FIX, "rules"))):
    if not fname.endswith(".json"):
        continue
    @test("rule/" + fname[:-5])
    def _(fname=fname):
        path = os.path.join(FIX, "rules", fname)
        doc = json.load(open(path))
        expect = doc["_expect"]
        rc, out, err, _t = run(doc.get("_args", []) + [path])
        check_clean(rc, out, err, path)
        lines = out.splitlines()
        if not expect:
            assert rc == 0 and len(lines) == 1 and ": valid: " in lines[0], "rc %d: %r" % (rc, out)
            return
        assert rc == 1, "rc %d, want 1: %r" % (rc, out)
        assert len(lines) == len(expect), "want %d lines, got:\n%s" % (len(expect), out)
        left = list(lines)
        for p, frag in expect:
            hit = [l for l in left if l.startswith("%s: %s: " % (path, p)) and frag in l[len(path) + len(p) + 4:]]
            assert hit, "no line for %s (%r) in:\n%s" % (p, frag, out)
            left.remove(hit[0])
        assert "invalid group definition: %d violation" % len(expect) in err, err

# every rule fixture without its break is the valid export: the flag test
@test("rule/runas_uid0_allowed_by_core")
def _():
    rc, out, _e, _t = run(["--allow-run-as-root", os.path.join(FIX, "rules", "runas_uid0.json")])
    assert rc == 0 and ": valid: " in out, out

@test("full_v1_export_validates")
def _():
    rc, out, err, _t = run([FULL])
    assert rc == 0, out + err
    assert out == FULL + ": valid: 4 functions, 7 resources, 5 subscriptions, 4 loggers\n", out
    assert err == "", err

# ---- usage ----
@test("usage/no_argument")
def _():
    rc, out, err, _t = run([])
    assert rc == 2 and "missing GROUP.json" in err and out == "", (rc, out, err)

@test("usage/two_files")
def _():
    rc, out, err, _t = run([FULL, FULL])
    assert rc == 2 and "unexpected argument" in err, (rc, err)

@test("usage/unknown_option")
def _():
    rc, out, err, _t = run(["--strict", FULL])
    assert rc == 2 and "unknown option '--strict'" in err, (rc, err)

@test("usage/help")
def _():
    rc, out, err, _t = run(["--help"])
    assert rc == 0 and out.startswith("usage: edgeml validate"), (rc, out)

@test("usage/missing_file")
def _():
    rc, out, err, _t = run([os.path.join(TMP, "nope.json")])
    assert rc == 1 and out == "" and len(err.splitlines()) == 1 and "cannot open" in err, (rc, out, err)

# ---- malformed JSON: one line with line:column ----
def one_syntax_line(name, data, where=None):
    path = write(name, data)
    rc, out, err, t = run([path])
    check_clean(rc, out, err, path)
    lines = out.splitlines()
    assert rc == 1 and len(lines) == 1, "rc %d: %r" % (rc, out[:500])
    m = re.match(re.escape(path) + r":(\d+):(\d+): ", lines[0])
    assert m, lines[0]
    if where:
        assert (int(m.group(1)), int(m.group(2))) == where, lines[0]
    assert t < 5, "took %.1f s" % t
    return lines[0]

@test("malformed/missing_bracket_line_col")
def _(): one_syntax_line("m1.json", '{\n  "Core": {\n    "Cores": [}\n}\n', (3, 15))

@test("malformed/trailing_comma")
def _(): one_syntax_line("m2.json", '{"Core": {"Cores": [],}}')

@test("malformed/empty_file")
def _(): one_syntax_line("m3.json", "")

@test("malformed/binary_garbage")
def _(): one_syntax_line("m4.json", bytes(range(256)) * 4)

@test("malformed/invalid_utf8")
def _(): one_syntax_line("m5.json", b'{"Core": {"Cores": [{"Id": "\xff\xfe"}]}}')

@test("malformed/nul_escape")
def _(): one_syntax_line("m6.json", '{"Core": {"Cores": [{"Id": "a\\u0000b"}]}}')

@test("malformed/duplicate_key")
def _(): one_syntax_line("m7.json", '{"Core": {}, "Core": {}}')

# ---- hostile ----
@test("hostile/deep_nesting")
def _():
    one_syntax_line("deep1.json", "[" * 200000 + "]" * 200000)
    one_syntax_line("deep2.json", '{"a":' * 100000 + "1" + "}" * 100000)

@test("hostile/deep_nesting_inside_field")
def _():
    # 1000 levels parse fine; the field is simply the wrong type
    doc = json.load(open(FULL))
    doc["Functions"]["Functions"][0]["FunctionConfiguration"]["Timeout"] = json.loads("[" * 1000 + "]" * 1000)
    path = write("deep3.json", json.dumps(doc))
    rc, out, err, _t = run([path])
    check_clean(rc, out, err, path)
    assert out.splitlines() == [path + ": Functions.Functions[0].FunctionConfiguration.Timeout: must be an integer"], out

@test("hostile/huge_numbers")
def _():
    base = open(FULL).read()
    for i, num in enumerate(["1e99999", "123456789012345678901234567890", "-1e400"]):
        one_syntax_line("huge%d.json" % i, base.replace('"MemorySize": 196608', '"MemorySize": ' + num))
    for num, frag in [("9223372036854775807", "out of range"), ("-1", "out of range"),
                      ("0", "out of range"), ("1.5", "must be an integer"), ("1e3", "must be an integer")]:
        path = write("num.json", base.replace('"MemorySize": 196608', '"MemorySize": ' + num))
        rc, out, err, _t = run([path])
        check_clean(rc, out, err, path)
        lines = out.splitlines()
        assert rc == 1 and len(lines) == 1 and "FunctionConfiguration.MemorySize: " in lines[0] and frag in lines[0], out

@test("hostile/not_an_object")
def _():
    for i, text in enumerate(["[]", '"x"', "null", "42", "true", "[{}]"]):
        path = write("top%d.json" % i, text)
        rc, out, err, _t = run([path])
        check_clean(rc, out, err, path)
        assert rc == 1 and len(out.splitlines()) == 1, (text, out)

def walk(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + (i,))

def set_at(doc, path, value):
    for p in path[:-1]:
        doc = doc[p]
    doc[path[-1]] = value

@test("hostile/wrong_types_everywhere")
def _():
    base = json.load(open(FULL))
    wrong = [None, 7, -1, 2.5, "x", "", True, [], {}, [1, "a"], {"a": {}}, "a" * 5000, "\u001b[31m\u00e9"]
    paths = [p for p in walk(base) if p]
    n = 0
    for p in paths:
        for w in wrong:
            doc = copy.deepcopy(base)
            set_at(doc, p, w)
            path = write("wt.json", json.dumps(doc))
            rc, out, err, t = run([path])
            check_clean(rc, out, err, path)
            assert t < 5, (p, w, t)
            n += 1
    assert n > 1000, n

@test("hostile/control_bytes_escaped")
def _():
    doc = json.load(open(FULL))
    doc["Loggers"]["Loggers"][0]["Id"] = "evil\u001b]0;title\u0007\nnext\u2028line"
    path = write("ctl.json", json.dumps(doc))
    rc, out, err, _t = run([path])
    check_clean(rc, out, err, path)
    lines = out.splitlines()
    assert rc == 1 and len(lines) == 1 and "\\x1b" in lines[0] and "Loggers.Loggers[0].Id" in lines[0], out

@test("hostile/control_bytes_in_key")
def _():
    doc = json.load(open(FULL))
    doc["Functions"]["Functions"][0]["FunctionConfiguration"]["Environment"]["Variables"]["K\u001b[2J\n"] = 5
    path = write("ctlkey.json", json.dumps(doc))
    rc, out, err, _t = run([path])
    check_clean(rc, out, err, path)
    lines = out.splitlines()
    assert rc == 1 and len(lines) == 1 and "Environment.Variables.K?[2J?: must be a string" in lines[0], out

def secrets(n, same_id=False):
    return [{"Id": "s" if same_id else "s%d" % i, "Name": "n%d" % i,
             "ResourceDataContainer": {"SecretsManagerSecretResourceData": {"ARN": "arn:aws:secretsmanager:r:1:secret:%d" % i}}}
            for i in range(n)]

@test("hostile/10k_resources")
def _():
    doc = json.load(open(FULL))
    doc["Resources"]["Resources"] = secrets(10000)
    for f in doc["Functions"]["Functions"]:
        f["FunctionConfiguration"].get("Environment", {}).pop("ResourceAccessPolicies", None)
    path = write("10k.json", json.dumps(doc))
    rc, out, err, t = run([path])
    check_clean(rc, out, err, path)
    assert out.splitlines() == [path + ": Resources.Resources: has 10000 resources; at most 50 are allowed in a group"], out[:500]
    assert t < 5, t

@test("hostile/10k_duplicates_capped")
def _():
    doc = json.load(open(FULL))
    doc["Resources"]["Resources"] = secrets(10000, same_id=True)
    for f in doc["Functions"]["Functions"]:
        f["FunctionConfiguration"].get("Environment", {}).pop("ResourceAccessPolicies", None)
    doc["Subscriptions"]["Subscriptions"] = [{"Id": "x%d" % i, "Source": "cloud", "Subject": "t",
        "Target": "arn:aws:lambda:r:1:function:missing%d" % i} for i in range(10000)]
    path = write("10kdup.json", json.dumps(doc))
    rc, out, err, t = run([path])
    check_clean(rc, out, err, path)
    lines = out.splitlines()
    # 1 (count) + 9999 duplicates + 10000 missing targets: 1000 shown, the rest counted
    assert rc == 1 and len(lines) == 1001, len(lines)
    assert lines[-1] == path + ": 19000 more violations not shown", lines[-1]
    assert "20000 violations" in err, err
    assert t < 5, t

@test("hostile/too_large")
def _():
    path = write("big.json", b'{"Core": "' + b"a" * (17 << 20) + b'"}')
    line = one_syntax_line("big.json", open(path, "rb").read())
    assert "more than the 16777216 allowed" in line, line

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
