#!/usr/bin/env bash
# Regenerate src/kernels/grouped_conv2d.wat from its generator and embed the assembled module (base64) in
# src/kernels/grouped_conv2d_wasm.ts. Needs Debian's `wabt` (wat2wasm). Not run by the tests or CI: the generated
# files are committed.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
node "$root/scripts/kernels/gen_grouped_conv2d_wat.js" > "$root/src/kernels/grouped_conv2d.wat"
wat2wasm "$root/src/kernels/grouped_conv2d.wat" -o "$tmp/k.wasm"
b64="$(base64 -w0 "$tmp/k.wasm")"
python3 - "$root/src/kernels/grouped_conv2d_wasm.ts" "$b64" <<'PY'
import re, sys
path, b64 = sys.argv[1], sys.argv[2]
src = open(path).read()
new, n = re.subn(r"(const WASM_BASE64 =\n  ')[^']*(';)", lambda m: m.group(1) + b64 + m.group(2), src)
assert n == 1, 'WASM_BASE64 not found'
open(path, 'w').write(new)
PY
echo "rebuilt src/kernels/grouped_conv2d.wat and the embedded module"
