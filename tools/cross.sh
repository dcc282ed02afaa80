# Cross builds and test runs under qemu-user for tools/test.sh (sourced; defines functions only).
#   cross_setup ARCH                 apt: cross gcc, the target's multiarch -dev packages, qemu-user;
#                                    binfmt_misc entry for qemu (so python3 can run target programs)
#   cross_build ARCH JOBS            cmake with cmake/toolchains/<triplet>.cmake into build-ARCH
#   cross_ctest ARCH JOBS MODE LOG   MODE "": every test except tests/no-qemu.txt;
#                                    MODE quick: the C unit tests and a conformance subset
#   cross_conformance_compare ARCH   build-ARCH/tests/STATUS.md against tests/conformance/STATUS.md
#   cross_list_not_run ARCH          prints tests/no-qemu.txt (what was not run, and why)
#   summary LOGDIR                   one closing line over every ctest log: "N passed, N failed"
# ARCH is aarch64 or armhf.

_cross_vars() {
    case $1 in
        aarch64) c_deb=arm64 c_triplet=aarch64-linux-gnu c_qemu=qemu-aarch64 ;;
        armhf) c_deb=armhf c_triplet=arm-linux-gnueabihf c_qemu=qemu-arm ;;
        *) echo "cross: unknown architecture '$1'" >&2; return 2 ;;
    esac
    c_build=$root/build-$1
}

_cross_log() { echo "cross($c_arch): $*" >&2; }

# binfmt_misc: the kernel runs target ELF files through qemu (the host's python3 starts
# `edgeml`, the core starts its functions). Debian's qemu-user-binfmt ships the entries in
# /usr/lib/binfmt.d; without systemd-binfmt or binfmt-support running, write them ourselves.
_cross_binfmt() {
    local d=/proc/sys/fs/binfmt_misc conf=/usr/lib/binfmt.d/$c_qemu.conf
    if [ ! -e "$d/register" ]; then
        mount -t binfmt_misc binfmt_misc "$d" 2>/dev/null || true
    fi
    if [ ! -e "$d/$c_qemu" ] && [ -w "$d/register" ] && [ -r "$conf" ]; then
        cat "$conf" > "$d/register" 2>/dev/null || true
    fi
    [ -e "$d/$c_qemu" ] && head -1 "$d/$c_qemu" | grep -qx enabled
}

cross_setup() {
    c_arch=$1
    _cross_vars "$1" || return 1
    local p need=()
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        if ! dpkg --print-foreign-architectures | grep -qx "$c_deb"; then
            _cross_log "dpkg --add-architecture $c_deb"
            dpkg --add-architecture "$c_deb"
            apt-get update -qq
        fi
        for p in "gcc-$c_triplet" "libc6-dev:$c_deb" "pkgconf:$c_deb" qemu-user qemu-user-binfmt \
                 "libjansson-dev:$c_deb" "libarchive-dev:$c_deb" "libcurl4-openssl-dev:$c_deb" \
                 "libssl-dev:$c_deb" "libsqlite3-dev:$c_deb" "libjpeg62-turbo-dev:$c_deb" \
                 "libpng-dev:$c_deb" "libmosquitto-dev:$c_deb"; do
            dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
        done
        if [ ${#need[@]} -gt 0 ]; then
            _cross_log "apt-get install ${need[*]}"
            apt-get update -qq
            apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
                { _cross_log "apt-get install failed"; return 1; }
        fi
    fi
    command -v "$c_triplet-gcc" >/dev/null || { _cross_log "no $c_triplet-gcc (apt-get install gcc-$c_triplet)"; return 1; }
    command -v "$c_qemu" >/dev/null || { _cross_log "no $c_qemu (apt-get install qemu-user)"; return 1; }
    if _cross_binfmt; then
        c_binfmt=1
    else
        c_binfmt=0
        _cross_log "no binfmt_misc entry for $c_qemu (needs root and binfmt_misc): only the tests that ctest runs through the emulator itself can run"
    fi
    return 0
}

cross_build() {
    c_arch=$1
    _cross_vars "$1" || return 1
    cmake -S "$root" -B "$c_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/$c_triplet.cmake" >/dev/null || return 1
    cmake --build "$c_build" -j"$2"
}

# Names of tests/no-qemu.txt as a ctest regex.
_cross_no_qemu_regex() {
    awk '!/^#/ && NF { printf "%s%s", (n++ ? "|" : ""), $1 }' "$root/tests/no-qemu.txt"
}

# The C unit tests (ctest runs them through the emulator) and, with binfmt, the loader.
_cross_quick_regex() {
    local r="ipc_topic|ipc_proto|router_unit|group_api|deploy_sigv4|deploy_store_unit|threads_pool|threads_shared_model|igemm"
    [ "$c_binfmt" = 1 ] && r="$r|loader"
    echo "$r"
}

cross_ctest() {
    c_arch=$1
    _cross_vars "$1" || return 1
    local jobs=$2 mode=$3 log=$4 rc=0   # quick: one test at a time (the pool spin-waits; under qemu two pool tests at once crawl)
    if [ "$mode" = quick ]; then
        (cd "$c_build" && ctest --output-on-failure -j1 -R "^($(_cross_quick_regex))\$") 2>&1 | tee "$log" || rc=1
        _cross_conformance_subset >> "$log" || rc=1
        tail -1 "$log"
        return $rc
    fi
    if [ "$c_binfmt" != 1 ]; then
        _cross_log "the whole suite needs binfmt_misc (python3 and the core execute target programs): run as root on a kernel with binfmt_misc"
        echo "0% tests passed, 1 tests failed out of 1" > "$log"
        return 1
    fi
    echo "== $c_arch under qemu-user: every test except tests/no-qemu.txt =="
    (cd "$c_build" && ctest --output-on-failure -j"$jobs" -E "^($(_cross_no_qemu_regex))\$") 2>&1 | tee "$log" || rc=1
    return $rc
}

# Failing and not-comparable cases of a STATUS.md as sorted "suite/case" lines, optionally
# only those of the given suites.
_cross_status_cases() {
    local f=$1; shift
    awk -v suites="$*" '
        BEGIN { n = split(suites, s, " "); for (i = 1; i <= n; i++) want[s[i]] = 1 }
        /^## Failing cases/ { sec = "fail"; next }
        /^## Not comparable/ { sec = "nc"; next }
        /^## / { sec = ""; next }
        sec == "fail" && /^\| / && $2 != "suite" && $2 !~ /^-/ { k = $2 "/" $4; if (!n || want[$2]) print "failed " k }
        sec == "nc" && /^- / { split($2, a, "/"); if (!n || want[a[1]]) print "not-comparable " $2 }
    ' "$f" | sort
}

# The conformance subset of the quick run: the small suites (pytorch-converted, pytorch-operator,
# simple; 140 cases) under qemu, their failing cases compared with the x86_64 STATUS.md.
_cross_conformance_subset() {
    local data=/usr/share/libonnx-testdata/data st=$c_build/tests/STATUS_quick.md suites="pytorch-converted pytorch-operator simple"
    local dirs=() s
    for s in $suites; do dirs+=("$data/$s"); done
    "$c_qemu" -L "/usr/$c_triplet" "$c_build/tests/em_conformance" --status "$st" "${dirs[@]}" | tail -1 >&2 || true
    if [ ! -s "$st" ]; then
        echo "conformance subset: no $st"
        echo "0% tests passed, 1 tests failed out of 1"
        return 1
    fi
    if diff <(_cross_status_cases "$root/tests/conformance/STATUS.md" $suites) <(_cross_status_cases "$st" $suites) >&2; then
        echo "conformance subset ($suites) on $c_arch: $(grep -o '\*\*[^*]*\*\*' "$st" | tr -d '*' | cut -d'(' -f1) — the same cases fail as on x86_64"
        echo "100% tests passed, 0 tests failed out of 1"
    else
        echo "conformance subset on $c_arch: failing cases differ from tests/conformance/STATUS.md (diff above: < x86_64, > $c_arch)"
        echo "0% tests passed, 1 tests failed out of 1"
        return 1
    fi
}

cross_conformance_compare() {
    c_arch=$1
    _cross_vars "$1" || return 1
    local st=$c_build/tests/STATUS.md
    if [ ! -s "$st" ]; then
        echo "conformance on $c_arch: no $st"
        echo "0% tests passed, 1 tests failed out of 1"
        return 1
    fi
    echo "== conformance: $c_arch under qemu-user vs x86_64 (tests/conformance/STATUS.md) =="
    echo "x86_64:  $(grep -m1 -o '\*\*[^*]*\*\*' "$root/tests/conformance/STATUS.md" | tr -d '*')"
    echo "$c_arch: $(grep -m1 -o '\*\*[^*]*\*\*' "$st" | tr -d '*')"
    if diff <(_cross_status_cases "$root/tests/conformance/STATUS.md") <(_cross_status_cases "$st"); then
        echo "the same cases fail / are not comparable on both"
        echo "100% tests passed, 0 tests failed out of 1"
    else
        echo "the cases differ (< x86_64, > $c_arch)"
        echo "0% tests passed, 1 tests failed out of 1"
        return 1
    fi
}

cross_list_not_run() {
    c_arch=$1
    echo "== not run under qemu-user on $c_arch (tests/no-qemu.txt) =="
    awk '!/^#/ && NF { name = $1; $1 = ""; sub(/^ +/, ""); printf "  %-32s %s\n", name, $0 }' "$root/tests/no-qemu.txt"
}

summary() {
    cat "$1"/*.log | awk '/tests passed, [0-9]+ tests failed out of/ {
        for (i = 1; i <= NF; i++) if ($i == "of") total += $(i+1); else if ($i == "failed" && $(i-1) == "tests") failed += $(i-2) }
        END { printf "%d passed, %d failed\n", total - failed, failed; exit failed ? 1 : 0 }'
}
