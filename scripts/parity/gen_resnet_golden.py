#!/usr/bin/env python3
"""Golden files for ResNet weight-import parity: test/golden/resnet_<variant>.json.

Each torchvision model gets every parameter and buffer from the integer hash of (state-dict name, element
index) defined in src/weights/hash_init.ts (FNV-1a 32 of the name, XOR index * 0x9e3779b9, murmur3 fmix32,
mapped to [-1, 1) and scaled by tensor kind), runs a hash-generated input [2, 3, 64, 64] in eval mode and
records: the state dict (names, shapes, dtypes, a checksum of each tensor's float32 bits), the logits and, for
C2..C5 (layer1..layer4 outputs, NCHW), sum, sum of |x|, mean, max |x| and 64 values at fixed (n, c, h, w).

The reference forward runs in float64 on the float32-rounded weights and input (the exact answer for those
numbers); the float32 forward's deviation from it is recorded as `torchFloat32RelErr` for scale.

Run by hand, never in CI:  /usr/bin/python3 scripts/parity/gen_resnet_golden.py
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torchvision

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'golden')
INPUT_SHAPE = (2, 3, 64, 64)
NUM_CLASSES = 7
NUM_SAMPLES = 64
HASH = ('fnv1a32(utf8 name) ^ (index * 0x9e3779b9 mod 2^32) -> murmur3 fmix32 -> u = 2x/2^32 - 1; '
        'running_var 0.75+0.25u, running_mean 0.1u, bias 0.1u, rank-1 weight 1+0.1u, '
        'rank>=2 weight u*sqrt(3/fan_in), input u (src/weights/hash_init.ts)')

VARIANTS = {
    'resnet18': ('resnet18', {}),
    'resnet50': ('resnet50', {}),
    'resnet101': ('resnet101', {}),
    'wide_resnet50_2': ('wide_resnet50_2', {}),
    'resnext50_32x4d': ('resnext50_32x4d', {}),
    'resnet50_dilated': ('resnet50', {'replace_stride_with_dilation': [False, True, True]}),
}

M32 = np.uint64(0xFFFFFFFF)


def fnv1a32(name):
    h = 0x811C9DC5
    for b in name.encode('utf-8'):
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def fmix32(x):
    x = x.astype(np.uint64)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & M32
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(0xC2B2AE35)) & M32
    x ^= x >> np.uint64(16)
    return x


def hash_uniform(name, count):
    i = np.arange(count, dtype=np.uint64)
    x = np.uint64(fnv1a32(name)) ^ ((i * np.uint64(0x9E3779B9)) & M32)
    return 2.0 * fmix32(x).astype(np.float64) / 4294967296.0 - 1.0


def hash_values(name, shape):
    n = int(np.prod(shape)) if len(shape) else 1
    u = hash_uniform(name, n)
    if name.endswith('running_var'):
        v = 0.75 + 0.25 * u
    elif name.endswith('running_mean') or name.endswith('.bias'):
        v = 0.1 * u
    elif name.endswith('.weight') and len(shape) == 1:
        v = 1 + 0.1 * u
    elif name.endswith('.weight'):
        v = u * math.sqrt(3 / int(np.prod(shape[1:])))
    else:
        v = u
    return v.astype(np.float32).reshape(shape)


def checksum(a):
    bits = np.ascontiguousarray(a, dtype=np.float32).reshape(-1).view(np.uint32).astype(np.uint64)
    w = np.arange(1, bits.size + 1, dtype=np.uint64)
    return int(np.sum(bits * w, dtype=np.uint64) & M32)


def fill(model):
    spec = []
    with torch.no_grad():
        for name, t in model.state_dict().items():
            shape = list(t.shape)
            if name.endswith('num_batches_tracked'):
                t.zero_()
                spec.append([name, shape, 'I64', 0])
                continue
            v = hash_values(name, shape)
            t.copy_(torch.from_numpy(v))
            spec.append([name, shape, 'F32', checksum(v)])
    return spec


def forward_levels(m, x):
    x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    c2 = m.layer1(x)
    c3 = m.layer2(c2)
    c4 = m.layer3(c3)
    c5 = m.layer4(c4)
    logits = m.fc(torch.flatten(m.avgpool(c5), 1))
    return {'C2': c2, 'C3': c3, 'C4': c4, 'C5': c5}, logits


def sample_indices(level, shape):
    n = int(np.prod(shape))
    x = fmix32(np.uint64(fnv1a32('sample/' + level)) ^ np.arange(NUM_SAMPLES, dtype=np.uint64))
    flat = (x % np.uint64(n)).astype(np.int64)
    return [list(map(int, np.unravel_index(f, shape))) for f in flat]


def rel_err(a, b):
    return float((a - b).abs().max() / b.abs().max())


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    x32 = torch.from_numpy(hash_values('input', list(INPUT_SHAPE)))
    for variant, (builder, kwargs) in VARIANTS.items():
        model = getattr(torchvision.models, builder)(num_classes=NUM_CLASSES, **kwargs).eval()
        spec = fill(model)
        with torch.no_grad():
            feats32, logits32 = forward_levels(model, x32)
            assert torch.allclose(model(x32), logits32)
            model64 = model.double()
            feats, logits = forward_levels(model64, x32.double())
        levels = {}
        for level, f in feats.items():
            shape = list(f.shape)
            idx = sample_indices(level, shape)
            levels[level] = {
                'shapeNchw': shape,
                'sum': float(f.sum()),
                'sumAbs': float(f.abs().sum()),
                'mean': float(f.mean()),
                'maxAbs': float(f.abs().max()),
                'samples': [i + [float(f[tuple(i)])] for i in idx],
                'torchFloat32RelErr': rel_err(feats32[level].double(), f),
            }
        golden = {
            'generator': 'scripts/parity/gen_resnet_golden.py',
            'torch': torch.__version__,
            'torchvision': torchvision.__version__,
            'hash': HASH,
            'variant': variant,
            'builder': builder,
            'kwargs': dict(num_classes=NUM_CLASSES, **kwargs),
            'input': {'name': 'input', 'shapeNchw': list(INPUT_SHAPE)},
            'reference': 'float64 forward of the float32-rounded weights and input, eval mode',
            'stateDict': spec,
            'logits': logits.tolist(),
            'logitsTorchFloat32RelErr': rel_err(logits32.double(), logits),
            'features': levels,
        }
        path = os.path.join(OUT_DIR, f'resnet_{variant}.json')
        with open(path + '.tmp', 'w') as fh:
            json.dump(golden, fh, separators=(',', ':'))
        os.replace(path + '.tmp', path)
        print(variant, 'params', len(spec), 'logits', logits.abs().max().item(),
              {k: (v['maxAbs'], v['torchFloat32RelErr']) for k, v in levels.items()}, file=sys.stderr)


if __name__ == '__main__':
    main()
