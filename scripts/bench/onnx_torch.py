"""Reference figures for scripts/bench/onnx.ts: torchvision resnet50 features (the pooled embedding: `fc` replaced
by the identity) at batch 1 and 8, eval mode, no grad.

Usage: onnx_torch.py SIZE REPEATS THREADS. Prints one JSON object (median ms per batch size, threads, versions).
Run with OMP_WAIT_POLICY=PASSIVE (set by the benchmark) so torch's pool does not spin between calls.
"""
import json
import sys

import torch
import torchvision

from torch_common import header, median_ms, set_threads


def main():
    size, repeats, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    set_threads(threads)
    model = torchvision.models.resnet50()
    model.fc = torch.nn.Identity()
    model.eval()
    out = header()
    with torch.no_grad():
        for n in (1, 8):
            x = torch.randn(n, 3, size, size)
            out[f"features_b{n}_ms"] = round(median_ms(lambda: model(x), 1, repeats), 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
