#!/usr/bin/env bash
# Run the GPU check and its torchvision counterpart on the same GPU in one command, one JSON line each:
#   {"check":"resvision-gpu",...}      scripts/gpu/gpu_check.ts (WebGPU through Dawn: Vulkan on Linux)
#   {"check":"torchvision-gpu",...}    scripts/gpu/gpu_check_torch.py (CUDA), when python3 can import torch
# Uses ./node/bin/node when present (the packed binary, see pack.sh), else the node on PATH. Extra arguments
# (--repeats N, --skip-large, --allow-software) go to both scripts where they apply.
set -uo pipefail
cd "$(dirname "$0")/../.."
node_bin=node
[ -x node/bin/node ] && node_bin="$PWD/node/bin/node"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2> /dev/null | sed 's/^/# nvidia-smi: /'
"$node_bin" --import tsx scripts/gpu/gpu_check.ts "$@"
rc=$?
if python3 -c 'import torch, torchvision' 2> /dev/null; then
  args=()
  for a in "$@"; do [ "$a" = --allow-software ] || args+=("$a"); done
  python3 scripts/gpu/gpu_check_torch.py "${args[@]}"
else
  echo '{"check":"torchvision-gpu","error":"python3 cannot import torch and torchvision"}'
fi
exit $rc
