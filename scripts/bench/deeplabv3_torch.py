"""torchvision's deeplabv3_resnet50 (K = 21, random weights, no aux head) eval-mode forward latency on a
[1, 3, H, W] input: best of `repeats` after one warm-up. Prints one JSON object (the reference side of
scripts/bench/eval_seg.ts --model-latency).

Usage: python3 deeplabv3_torch.py [size=512] [repeats=3] [threads=2]
"""
import json
import sys
import time

import torch
import torchvision

from torch_common import loaded_blas, set_threads


def main():
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 512
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    set_threads(threads)
    model = torchvision.models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=21, aux_loss=False).eval()
    x = torch.randn(1, 3, size, size)
    times = []
    with torch.no_grad():
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            model(x)["out"]
            if i > 0:
                times.append(time.perf_counter() - t0)
    print(json.dumps({"model": "torchvision deeplabv3_resnet50", "torch": torch.__version__, "threads": torch.get_num_threads(), "blas": loaded_blas()[0],
                      "input": [1, 3, size, size], "bestSeconds": min(times), "seconds": times}))


if __name__ == "__main__":
    main()
