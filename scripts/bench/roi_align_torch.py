"""Reference figures for scripts/bench/roi_align.ts: torchvision.ops.roi_align on the CPU.

Same problem as the TypeScript side: features [1, C, H, W] (NCHW here), R boxes of random sizes inside the image,
output 7x7, sampling ratio 2, spatial scale 1/4, aligned=False (Faster R-CNN's MultiScaleRoIAlign on P2); forward
alone, and forward + backward of sum(output * g). Prints one JSON object with medians in ms and torch threads.
Usage: python3 roi_align_torch.py H W C R REPEATS THREADS
"""
import json
import sys

import torch
from torchvision.ops import roi_align

from torch_common import header, median_ms, set_threads


def main():
    h, w, c, r, repeats, threads = (int(v) for v in sys.argv[1:7])
    set_threads(threads)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, c, h, w, generator=g, requires_grad=True)
    xy = torch.rand(r, 2, generator=g) * torch.tensor([w * 4 * 0.8, h * 4 * 0.8])
    wh = 8 + torch.rand(r, 2, generator=g) * 120
    rois = torch.cat([torch.zeros(r, 1), xy, xy + wh], 1)
    gy = torch.rand(r, c, 7, 7, generator=g)
    with torch.no_grad():
        fwd = median_ms(lambda: roi_align(x, rois, 7, 0.25, 2, False), 1, repeats)

    def fb():
        x.grad = None
        (roi_align(x, rois, 7, 0.25, 2, False) * gy).sum().backward()

    both = median_ms(fb, 1, repeats)
    print(json.dumps({**header(), 'forward_ms': fwd, 'forward_backward_ms': both}))


if __name__ == '__main__':
    main()
