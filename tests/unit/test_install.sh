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
exit $fail
