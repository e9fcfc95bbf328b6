#!/usr/bin/env bash
# What a user of the published package gets: `npm pack` (which builds dist/ through the `prepare` script), install
# the tarball into an empty project in a temporary folder, then run the installed CLI (`npx resvision --help`,
# `doctor`, `plot-curves` on a tiny log) and load the library with require() and import. Prints the tarball's size,
# its file count and the time taken. Needs the npm registry (the package's dependencies are downloaded).
#
# Usage: bash scripts/check_pack.sh [--keep]     (--keep leaves the temporary folder for a look)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
keep=${1:-}
start=$(date +%s)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/resvision-pack-XXXXXX")
if [ "$keep" != "--keep" ]; then trap 'rm -rf "$tmp"' EXIT; fi

echo "== npm pack (builds dist/ first)"
npm pack --pack-destination "$tmp" --json > "$tmp/pack.json"
tarball=$(node -e "const p=require('$tmp/pack.json')[0]; console.log(p.filename)")
node -e "
const p = require('$tmp/pack.json')[0];
const mb = (n) => (n / 1048576).toFixed(2) + ' MB';
console.log(p.filename + ': ' + mb(p.size) + ' packed, ' + mb(p.unpackedSize) + ' unpacked, ' + p.entryCount + ' files');
const top = {};
for (const f of p.files) { const k = f.path.split('/').slice(0, f.path.startsWith('dist/') ? 2 : 1).join('/'); top[k] = (top[k] || 0) + 1; }
console.log('  ' + Object.entries(top).map(([k, n]) => k + ' (' + n + ')').join(', '));
for (const must of ['bin/resvision.js', 'dist/src/cli/main.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/coco.js', 'fonts/DejaVuSans.ttf', 'fonts/LICENSE-DejaVu.txt', 'README.md', 'LICENSE']) {
  if (!p.files.some((f) => f.path === must)) { console.error('missing from the package: ' + must); process.exit(1); }
}
for (const f of p.files) {
  if (/^(test|examples|scripts|src|heads|datasets)\//.test(f.path) || f.path.endsWith('.ts') && !f.path.endsWith('.d.ts')) {
    console.error('not meant for the package: ' + f.path); process.exit(1);
  }
}
"

echo "== npm install ./$tarball into an empty project ($tmp/app)"
mkdir "$tmp/app"
cd "$tmp/app"
npm init -y > /dev/null
t_install=$(date +%s)
npm install --no-audit --no-fund --loglevel=error "$tmp/$tarball"
echo "installed in $(( $(date +%s) - t_install )) s; node_modules: $(du -sh node_modules | cut -f1)"

echo "== npx resvision --help"
npx --no-install resvision --help
echo "== npx resvision doctor"
npx --no-install resvision --backend wasm doctor
echo "== npx resvision plot-curves"
printf '%s\n' '{"type":"train","iteration":9,"losses":{"classification":1.2,"boxRegression":0.6},"totalLoss":1.8}' \
  '{"type":"train","iteration":19,"losses":{"classification":0.9,"boxRegression":0.5},"totalLoss":1.4}' \
  '{"type":"eval","iteration":19,"metrics":{"AP":2.5,"AP50":7}}' > metrics.jsonl
npx --no-install resvision plot-curves metrics.jsonl --out curve.png
node -e "const b=require('fs').readFileSync('curve.png'); if (b.readUInt32BE(0)!==0x89504e47) { console.error('curve.png is not a PNG'); process.exit(1); }"
echo "== the library: require() and import"
node -e "const r = require('resvision'); for (const f of ['resnet50','selectBackend','loadTorchvisionWeights']) if (typeof r[f] !== 'function') { console.error('require: missing ' + f); process.exit(1); } console.log('require: ok')"
node --input-type=module -e "import { resnet50, selectBackend } from 'resvision'; if (typeof resnet50 !== 'function' || typeof selectBackend !== 'function') process.exit(1); console.log('import: ok')"
node -e "const c = require('resvision/coco'); if (typeof c.CocoEval !== 'function' || typeof c.Coco !== 'function') process.exit(1); const heavy = Object.keys(require.cache).filter((k) => /node_modules[\\/](@tensorflow|sharp)[\\/]/.test(k)); if (heavy.length) { console.error('resvision/coco loaded ' + heavy[0]); process.exit(1); } console.log('resvision/coco: ok, no tensor library loaded')"

cd "$repo"
echo "check_pack: ok in $(( $(date +%s) - start )) s ($tarball)"
