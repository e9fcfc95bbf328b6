#!/usr/bin/env python3
"""Golden files for segmentation parity: test/golden/{fcn,deeplabv3}_resnet50.json.

torchvision's fcn_resnet50 and deeplabv3_resnet50 (num_classes=5, aux_loss=True, no pretrained weights) get every
parameter and buffer from the integer hash of (state-dict name, element index) defined in src/weights/hash_init.ts
(the same functions as scripts/parity/gen_resnet_golden.py), run a hash-generated input [1, 3, 65, 65] (odd size:
the final bilinear upsampling from 9x9 is not an integer scale) in eval mode and record:
- the state dict (names, torch shapes, dtypes, a checksum of each tensor's float32 bits);
- for 'out' and 'aux' (NCHW [1, 5, 65, 65]): sum, sum of |x|, max |x|, 512 values at hashed (n, c, h, w) plus every
  value of rows 0 and 64 and columns 0 and 64 (the interpolation's borders), and the classifier's logits before the
  upsampling (NCHW [1, 5, 9, 9], all values);
- the loss on a fixed target [1, 65, 65] (hash classes 0..4, about 20% of the pixels 255):
  F.cross_entropy(ignore_index=255) of 'out' and of 'aux', with class weights [0.5, 1, 2, 1.5, 0.25] on 'out',
  and torchvision's reference criterion out + 0.5 * aux.

The reference forward runs in float64 on the float32-rounded weights and input (the exact answer for those
numbers); the float32 forward's deviation from it is recorded as `torchFloat32RelErr` for scale.

Run by hand, never in CI:  /usr/bin/python3 scripts/parity/gen_segmentation_golden.py
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_resnet_golden import HASH, checksum, fill, fmix32, fnv1a32, hash_uniform, hash_values  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'golden')
INPUT_SHAPE = (1, 3, 65, 65)
NUM_CLASSES = 5
NUM_SAMPLES = 512
CLASS_WEIGHTS = [0.5, 1.0, 2.0, 1.5, 0.25]
IGNORE_FRACTION = 0.2
MODELS = ['fcn_resnet50', 'deeplabv3_resnet50']


def make_target():
    """[1, 65, 65] int64: class floor((u + 1) / 2 * K) from hash 'target', 255 where hash 'target_ignore' < -0.6."""
    n, _, h, w = INPUT_SHAPE
    u = hash_uniform('target', n * h * w)
    cls = np.minimum(np.floor((u + 1) / 2 * NUM_CLASSES), NUM_CLASSES - 1).astype(np.int64)
    ign = hash_uniform('target_ignore', n * h * w) < (2 * IGNORE_FRACTION - 1)
    cls[ign] = 255
    return cls.reshape(n, h, w)


def sample_indices(key, shape):
    n = int(np.prod(shape))
    x = fmix32(np.uint64(fnv1a32('sample/' + key)) ^ np.arange(NUM_SAMPLES, dtype=np.uint64))
    flat = (x % np.uint64(n)).astype(np.int64)
    idx = {tuple(int(v) for v in np.unravel_index(f, shape)) for f in flat}
    N, C, H, W = shape
    for c in range(C):
        for t in range(W):
            idx.add((0, c, 0, t))
            idx.add((0, c, H - 1, t))
        for t in range(H):
            idx.add((0, c, t, 0))
            idx.add((0, c, t, W - 1))
    return sorted(idx)


def rel_err(a, b):
    return float((a - b).abs().max() / b.abs().max())


def summary(key, f, f32):
    shape = list(f.shape)
    return {
        'shapeNchw': shape,
        'sum': float(f.sum()),
        'sumAbs': float(f.abs().sum()),
        'maxAbs': float(f.abs().max()),
        'samples': [list(i) + [float(f[i])] for i in sample_indices(key, shape)],
        'torchFloat32RelErr': rel_err(f32.double(), f),
    }


def main():
    x32 = torch.from_numpy(hash_values('input', list(INPUT_SHAPE)))
    target = torch.from_numpy(make_target())
    weights = torch.tensor(CLASS_WEIGHTS, dtype=torch.float64)
    for name in MODELS:
        model = getattr(torchvision.models.segmentation, name)(
            weights=None, weights_backbone=None, num_classes=NUM_CLASSES, aux_loss=True).eval()
        spec = fill(model)
        with torch.no_grad():
            out32 = model(x32)
            model64 = model.double()
            x64 = x32.double()
            out64 = model64(x64)
            feats = model64.backbone(x64)
            low = {'out': model64.classifier(feats['out']), 'aux': model64.aux_classifier(feats['aux'])}
            loss_out = F.cross_entropy(out64['out'], target, ignore_index=255)
            loss_aux = F.cross_entropy(out64['aux'], target, ignore_index=255)
            loss_w = F.cross_entropy(out64['out'], target, weight=weights, ignore_index=255)
        outputs = {}
        for key in ('out', 'aux'):
            s = summary(f'{name}/{key}', out64[key], out32[key])
            s['lowRes'] = {'shapeNchw': list(low[key].shape), 'values': low[key].reshape(-1).tolist()}
            outputs[key] = s
        golden = {
            'generator': 'scripts/parity/gen_segmentation_golden.py',
            'torch': torch.__version__,
            'torchvision': torchvision.__version__,
            'hash': HASH,
            'model': name,
            'kwargs': {'num_classes': NUM_CLASSES, 'aux_loss': True},
            'input': {'name': 'input', 'shapeNchw': list(INPUT_SHAPE)},
            'reference': 'float64 forward of the float32-rounded weights and input, eval mode',
            'stateDict': spec,
            'outputs': outputs,
            'target': target.reshape(-1).tolist(),
            'classWeights': CLASS_WEIGHTS,
            'loss': {
                'out': float(loss_out),
                'aux': float(loss_aux),
                'outClassWeighted': float(loss_w),
                'criterion': float(loss_out + 0.5 * loss_aux),
            },
        }
        path = os.path.join(OUT_DIR, f'{name}.json')
        with open(path + '.tmp', 'w') as fh:
            json.dump(golden, fh, separators=(',', ':'))
        os.replace(path + '.tmp', path)
        print(name, 'params', len(spec), {k: (v['maxAbs'], v['torchFloat32RelErr']) for k, v in outputs.items()},
              golden['loss'], file=sys.stderr)


if __name__ == '__main__':
    main()
