#!/usr/bin/env python3
"""Golden file for the Panoptic FPN semantic head: test/golden/sem_seg_fpn_head.json.

A PyTorch module written after detectron2's SemSegFPNHead (modeling/meta_arch/semantic_seg.py; detectron2 is not
installed here, so the module below repeats its construction: per level max(1, log2(stride / 4)) blocks of
Conv2d(3x3, bias=False) + GroupNorm(32) + ReLU, each followed by Upsample(2, bilinear, align_corners=False) when
stride != 4, summed, 1x1 predictor, F.interpolate(scale_factor=4, bilinear, align_corners=False); loss
F.cross_entropy(mean, ignore_index=255)), with conv_dims 64, num_classes 5, on hash pyramid features P2..P5 of
two 64 x 96 images with 32 channels.

Every state tensor comes from the hash of src/weights/hash_init.ts (names as detectron2's, without the
`sem_seg_head.` prefix). Records: the state dict (names, shapes, checksums); the stride-4 logits in full; the
input-size logits as statistics and samples; the loss on a hash target with ignored pixels; and the gradients of
that loss for a few parameters. The reference runs in float64 on the float32-rounded weights and inputs.

Run by hand, never in CI:  /usr/bin/python3 scripts/parity/gen_sem_seg_fpn_golden.py
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_resnet_golden import HASH, OUT_DIR, fill, fmix32, fnv1a32, hash_uniform, hash_values  # noqa: E402

N, H, W = 2, 64, 96
IN_CHANNELS = 32
CONV_DIMS = 64
NUM_CLASSES = 5
STRIDES = {'p2': 4, 'p3': 8, 'p4': 16, 'p5': 32}
COMMON_STRIDE = 4
GRAD_PARAMS = ['predictor.bias', 'predictor.weight', 'p5.4.norm.weight', 'p2.0.norm.bias', 'p3.0.weight']


class ConvGN(nn.Conv2d):
    """detectron2 layers.Conv2d with norm=GroupNorm(32) and activation=relu."""

    def __init__(self, cin, cout):
        super().__init__(cin, cout, kernel_size=3, stride=1, padding=1, bias=False)
        self.norm = nn.GroupNorm(32, cout)

    def forward(self, x):
        return F.relu(self.norm(super().forward(x)))


class SemSegFPNHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.in_features = list(STRIDES)
        self.scale_heads = []
        for f, stride in STRIDES.items():
            ops = []
            length = max(1, int(np.log2(stride) - np.log2(COMMON_STRIDE)))
            for k in range(length):
                ops.append(ConvGN(IN_CHANNELS if k == 0 else CONV_DIMS, CONV_DIMS))
                if stride != COMMON_STRIDE:
                    ops.append(nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False))
            self.scale_heads.append(nn.Sequential(*ops))
            self.add_module(f, self.scale_heads[-1])
        self.predictor = nn.Conv2d(CONV_DIMS, NUM_CLASSES, kernel_size=1)

    def layers(self, features):
        for i, f in enumerate(self.in_features):
            y = self.scale_heads[i](features[f])
            x = y if i == 0 else x + y
        return self.predictor(x)

    def forward(self, features):
        x4 = self.layers(features)
        return x4, F.interpolate(x4, scale_factor=COMMON_STRIDE, mode='bilinear', align_corners=False)


def make_target():
    """[N, H, W] int64: hash classes 0..4, with a 255 (ignored) band and scattered ignored pixels."""
    u = hash_uniform('semseg/target', N * H * W).reshape(N, H, W)
    t = np.floor((u + 1) / 2 * NUM_CLASSES).astype(np.int64)
    t[u > 0.9] = 255
    t[:, 10:14, :] = 255
    return torch.from_numpy(t)


def sample_indices(key, shape, k=64):
    n = int(np.prod(shape))
    x = fmix32(np.uint64(fnv1a32('sample/' + key)) ^ np.arange(k, dtype=np.uint64))
    flat = (x % np.uint64(n)).astype(np.int64)
    return [list(map(int, np.unravel_index(f, shape))) for f in flat]


def main():
    head = SemSegFPNHead()
    spec = fill(head)
    feats32 = {f: torch.from_numpy(hash_values(f'semseg/{f.upper()}', [N, IN_CHANNELS, H // s, W // s])) for f, s in STRIDES.items()}
    with torch.no_grad():
        _, out32 = head(feats32)
    head = head.double()
    feats = {f: v.double() for f, v in feats32.items()}
    x4, out = head(feats)
    target = make_target()
    loss = F.cross_entropy(out, target, ignore_index=255)
    loss.backward()
    params = dict(head.named_parameters())
    grads = {}
    for name in GRAD_PARAMS:
        g = params[name].grad
        grads[name] = {'shape': list(g.shape), 'values': [float('%.10g' % v) for v in g.reshape(-1).tolist()]} if g.numel() <= 64 else {
            'shape': list(g.shape), 'sum': float(g.sum()), 'sumAbs': float(g.abs().sum()), 'maxAbs': float(g.abs().max()),
            'samples': [i + [float(g[tuple(i)])] for i in sample_indices('grad/' + name, list(g.shape))]}
    out_d = out.detach()
    golden = {
        'generator': 'scripts/parity/gen_sem_seg_fpn_golden.py',
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'hash': HASH,
        'model': 'SemSegFPNHead (detectron2 semantic_seg.py) with conv_dims 64, GroupNorm(32), common_stride 4, num_classes 5',
        'reference': 'float64 forward and backward of the float32-rounded weights and inputs',
        'convDims': CONV_DIMS,
        'numClasses': NUM_CLASSES,
        'inputs': {f.upper(): {'name': f'semseg/{f.upper()}', 'shapeNchw': list(v.shape)} for f, v in feats32.items()},
        'stateDict': spec,
        'logitsStride4Nchw': {'shape': list(x4.shape), 'values': [float('%.9g' % v) for v in x4.detach().reshape(-1).tolist()]},
        'logits': {
            'shapeNchw': list(out_d.shape), 'sum': float(out_d.sum()), 'sumAbs': float(out_d.abs().sum()),
            'maxAbs': float(out_d.abs().max()),
            'samples': [i + [float(out_d[tuple(i)])] for i in sample_indices('semseg/logits', list(out_d.shape))],
            'torchFloat32RelErr': float((out32.double() - out_d).abs().max() / out_d.abs().max()),
        },
        'target': {'what': "floor((u + 1) / 2 * 5) with u = hash('semseg/target') [N, H, W]; 255 where u > 0.9 and on rows 10..13",
                   'ignored': int((target == 255).sum())},
        'loss': float(loss),
        'grads': grads,
    }
    path = os.path.join(OUT_DIR, 'sem_seg_fpn_head.json')
    with open(path + '.tmp', 'w') as fh:
        json.dump(golden, fh, separators=(',', ':'))
    os.replace(path + '.tmp', path)
    print('bytes', os.path.getsize(path), 'loss', float(loss), 'names', [s[0] for s in spec], file=sys.stderr)


if __name__ == '__main__':
    main()
