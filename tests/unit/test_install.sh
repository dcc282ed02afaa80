#!/usr/bin/env bash
# `cmake --install` gives a library a program can build against with pkg-config
# (static and shared), and the shared library exports only the edgeml_ API.
set -euo pipefail
build=$1 model=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig
cat > "$tmp/use.c" <<'C'
#include <edgeml/infer.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    edgeml_model *m;
    edgeml_error e;
    if (argc < 2 || edgeml_model_load(argv[1], NULL, &m, &e) != EDGEML_OK) return 1;
    printf("edgeml %s: %zu inputs\n", edgeml_version(), edgeml_model_num_inputs(m));
    edgeml_model_free(m);
    return 0;
}
C
fail=0
cc "$tmp/use.c" $(pkg-config --cflags edgeml) "$tmp/prefix/lib/libedgeml.a" $(pkg-config --libs-only-l --static edgeml | sed 's/-ledgeml//') -o "$tmp/use_static"
"$tmp/use_static" "$model" | grep -q "inputs" && echo "PASS static link" || { echo "FAIL static link"; fail=1; }
cc "$tmp/use.c" $(pkg-config --cflags --libs edgeml) -Wl,-rpath,"$tmp/prefix/lib" -o "$tmp/use_shared"
"$tmp/use_shared" "$model" | grep -q "inputs" && echo "PASS shared link" || { echo "FAIL shared link"; fail=1; }
leaked=$(nm -D --defined-only "$tmp/prefix/lib/libedgeml.so" | awk '$2 ~ /[TDBR]/ && $3 !~ /^edgeml_/ && $3 !~ /^_/ {print $3}')
[ -z "$leaked" ] && echo "PASS only edgeml_ symbols exported" || { echo "FAIL exported: $leaked"; fail=1; }
[ -x "$tmp/prefix/bin/edgeml" ] && echo "PASS edgeml installed" || { echo "FAIL no bin/edgeml"; fail=1; }
[ -x "$tmp/prefix/bin/edgeml-core" ] && echo "PASS edgeml-core installed" || { echo "FAIL no bin/edgeml-core"; fail=1; }
# a function built against the installed SDK, found through pkg-config: outside a core it
# says so in one line and exits non-zero
cat > "$tmp/fn.c" <<'C'
#include <edgeml/sdk.h>
#include <stdio.h>
static int handler(const edgeml_message *m) { return edgeml_publish("t", m->payload, m->len); }
int main(void)
{
    int st = edgeml_runtime_start(handler, 0);
    printf("%d %s\n", st, edgeml_sdk_last_error());
    return st == EDGEML_SDK_E_NOCORE ? 0 : 1;
}
C
if cc "$tmp/fn.c" $(pkg-config --cflags --libs edgeml-sdk) -Wl,-rpath,"$tmp/prefix/lib" -o "$tmp/fn" &&
   env -u EDGEML_CORE_SOCKET -u EDGEML_TOKEN "$tmp/fn" >"$tmp/fn.out" 2>&1; then
    echo "PASS SDK function builds with pkg-config edgeml-sdk, refuses to run without a core"
else
    echo "FAIL SDK function: $(cat "$tmp/fn.out" 2>/dev/null)"; fail=1
fi
leaked=$(nm -D --defined-only "$tmp/prefix/lib/libedgeml-sdk.so" | awk '$2 ~ /[TDBR]/ && $3 !~ /^edgeml_/ && $3 !~ /^_/ {print $3}')
[ -z "$leaked" ] && echo "PASS SDK exports only edgeml_ symbols" || { echo "FAIL SDK exports: $leaked"; fail=1; }
exit $fail
