"""Reference side of scripts/bench/simd_peak.ts on one thread: float32 GEMM (1024 x 1024 x 1024), one ResNet-50
convolution (3x3, 256 -> 256 channels, batch 4 at 14x14) and the torchvision ResNet-50 forward pass (batch 1, 224),
each as the median of `repeats` after warm-up. Prints one JSON object with the times and GFLOP/s (2 flops per
multiply-add).

Usage: python3 simd_peak_torch.py [repeats=7]
"""
import json
import sys

import torch
import torch.nn.functional as F
import torchvision

from torch_common import header, median_ms, set_threads


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    set_threads(1)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    gemm = median_ms(lambda: torch.mm(a, b), 3, repeats)
    x, w = torch.randn(4, 256, 14, 14), torch.randn(256, 256, 3, 3)
    conv = median_ms(lambda: F.conv2d(x, w, padding=1), 3, repeats)
    model = torchvision.models.resnet50().eval()
    image = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        forward = median_ms(lambda: model(image), 2, repeats)
    print(json.dumps({**header(), "gemm_1024_ms": gemm, "gemm_gflops": 2 * 1024 ** 3 / gemm / 1e6,
                      "conv3x3_ms": conv, "conv3x3_gflops": 2 * 4 * 14 * 14 * 256 * 256 * 9 / conv / 1e6,
                      "resnet50_forward_b1_ms": forward}))


if __name__ == "__main__":
    main()
