#!/usr/bin/env python3
"""Golden file for RoIAlign parity: test/golden/roi_align.json.

torchvision.ops.roi_align (CPU kernel, float32) on hash features [2, 3, 9, 11] (NCHW; u = hash('roi_align/features'),
src/weights/hash_init.ts) and a fixed set of boxes (xyxy, input pixels, with batch indices) chosen to exercise
every branch of the kernel: boxes inside, boxes crossing each border, boxes wholly outside (zero samples), boxes
smaller than one feature pixel (min size 1 when not aligned), degenerate and inverted boxes, fractional corners.
Cases vary aligned, sampling_ratio (2, 1, adaptive 0) and spatial_scale (1, 0.5, 0.25).

For each case it records the output [R, C, PH, PW] and the gradient of sum(output * g) with respect to the
features, with g = hash('roi_align/<case>/g') of the output's shape: the reference values of the kernel and of
its backward (roi_align_backward), float32.

Run by hand, never in CI:  /usr/bin/python3 scripts/parity/gen_roi_align_golden.py
"""
import json
import os
import sys

import torch
import torchvision
from torchvision.ops import roi_align

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_resnet_golden import HASH, OUT_DIR, hash_uniform  # noqa: E402

FEATURE_SHAPE = [2, 3, 9, 11]
# (batch index, x1, y1, x2, y2), in input pixels.
BOXES = [
    [0, 0.0, 0.0, 11.0, 9.0],
    [1, 1.25, 2.5, 7.75, 6.0],
    [0, -3.0, -2.0, 4.0, 5.0],
    [1, 6.0, 4.0, 14.5, 12.0],
    [0, 12.0, 10.0, 16.0, 15.0],
    [1, 3.3, 3.3, 3.6, 3.9],
    [0, 5.0, 5.0, 5.0, 5.0],
    [1, 8.0, 7.0, 2.0, 1.0],
    [0, -1.5, 7.2, 10.9, 8.99],
    [1, 0.1, 0.2, 21.7, 17.9],
]
CASES = [
    # name, output_size, spatial_scale, sampling_ratio, aligned, boxes scaled by
    ('s1_r2', [3, 4], 1.0, 2, False, 1.0),
    ('s1_r2_aligned', [3, 4], 1.0, 2, True, 1.0),
    ('s1_adaptive', [2, 3], 1.0, 0, False, 1.0),
    ('s1_adaptive_aligned', [2, 3], 1.0, -1, True, 1.0),
    ('s05_r1', [7, 7], 0.5, 1, False, 2.0),
    ('s025_r2_aligned', [7, 7], 0.25, 2, True, 4.0),
]


def hash_tensor(name, shape):
    n = 1
    for s in shape:
        n *= s
    return torch.from_numpy(hash_uniform(name, n).astype('float32')).reshape(shape)


def main():
    feats = hash_tensor('roi_align/features', FEATURE_SHAPE)
    cases = []
    for name, size, scale, ratio, aligned, k in CASES:
        rois = torch.tensor([[b[0]] + [v * k for v in b[1:]] for b in BOXES], dtype=torch.float32)
        x = feats.clone().requires_grad_(True)
        y = roi_align(x, rois, output_size=size, spatial_scale=scale, sampling_ratio=ratio, aligned=aligned)
        g = hash_tensor(f'roi_align/{name}/g', list(y.shape))
        (y * g).sum().backward()
        cases.append({
            'name': name,
            'outputSize': size,
            'spatialScale': scale,
            'samplingRatio': ratio,
            'aligned': aligned,
            'rois': rois.tolist(),
            'outputNchw': [float('%.9g' % v) for v in y.detach().reshape(-1).tolist()],
            'outputShapeNchw': list(y.shape),
            'gradNchw': [float('%.9g' % v) for v in x.grad.reshape(-1).tolist()],
        })
    golden = {
        'generator': 'scripts/parity/gen_roi_align_golden.py',
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'hash': HASH,
        'what': "torchvision.ops.roi_align, float32 CPU kernel, features u = hash('roi_align/features') NCHW; "
                "grad of sum(output * g), g = hash('roi_align/<case>/g') of the output's NCHW shape",
        'featureShapeNchw': FEATURE_SHAPE,
        'cases': cases,
    }
    path = os.path.join(OUT_DIR, 'roi_align.json')
    with open(path + '.tmp', 'w') as fh:
        json.dump(golden, fh, separators=(',', ':'))
    os.replace(path + '.tmp', path)
    print('bytes', os.path.getsize(path), file=sys.stderr)


if __name__ == '__main__':
    main()
