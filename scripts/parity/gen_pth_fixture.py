#!/usr/bin/env python3
"""Tiny torch.save fixtures for the .pth reader: test/golden/tiny_*.pth and tiny_pth.json (expected values).

- tiny_state_dict.pth: state_dict() of Sequential(Conv2d(3, 4, 3), BatchNorm2d(4), Flatten, Linear(16, 5)) with
  fixed values, plus extra entries exercising the reader: a non-contiguous view (transposed), a float16 tensor, a
  view at a storage offset (sharing the storage of another tensor), an int64 tensor and a bool tensor.
- tiny_checkpoint.pth: {'model': <the same state dict>, 'epoch': 3, 'lr': 0.1, 'names': ['a', 'b'], 'nested': {...}}
  (the shape of torchvision reference-script checkpoints).
- tiny_state_dict_legacy.pth: the same state dict in torch's legacy format (`_use_new_zipfile_serialization=False`,
  the format of torchvision's older published weights).
- tiny_forbidden.pth: {'counts': collections.Counter(...)}: a global outside torch's weights_only allow list.
- tiny_resnet18_stem.pth: the stem and head of torchvision resnet18(num_classes=3) (conv1, bn1 with
  num_batches_tracked, fc), values from the hash of gen_resnet_golden.py, for the import path through .pth.

Run by hand, never in CI:  /usr/bin/python3 scripts/parity/gen_pth_fixture.py
"""
import collections
import json
import os

import torch
import torch.nn as nn
import torchvision

from gen_resnet_golden import hash_values

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'golden')


def main():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(16, 5))
    with torch.no_grad():
        for i, t in enumerate(model.state_dict().values()):
            if t.dtype.is_floating_point:
                t.copy_(torch.arange(t.numel(), dtype=torch.float32).reshape(t.shape) * 0.01 * (i + 1) - 0.05)
        model[1].num_batches_tracked.fill_(7)
    sd = model.state_dict()
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 8
    sd['extra.transposed'] = base.t()              # strides (1, 4): non-contiguous
    sd['extra.half'] = torch.tensor([0.5, -2.0, 65504.0, 1e-4, -0.0], dtype=torch.float16)
    sd['extra.base'] = base
    sd['extra.offset_view'] = base[1:, 1:3]        # storage offset 5, strides (4, 1), shares extra.base's storage
    sd['extra.long'] = torch.tensor([[-3, 2**40], [0, 7]], dtype=torch.int64)
    sd['extra.bool'] = torch.tensor([True, False, True])
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.save(sd, os.path.join(OUT_DIR, 'tiny_state_dict.pth'))
    torch.save(sd, os.path.join(OUT_DIR, 'tiny_state_dict_legacy.pth'), _use_new_zipfile_serialization=False)
    torch.save({'model': sd, 'epoch': 3, 'lr': 0.1, 'names': ['a', 'b'], 'nested': {'k': (1, 2.5, None, True)}},
               os.path.join(OUT_DIR, 'tiny_checkpoint.pth'))
    torch.save({'counts': collections.Counter('aab')}, os.path.join(OUT_DIR, 'tiny_forbidden.pth'))

    resnet = torchvision.models.resnet18(num_classes=3)
    stem = {}
    for k, v in resnet.state_dict().items():
        if k.startswith(('conv1.', 'bn1.', 'fc.')):
            stem[k] = torch.zeros_like(v) if k.endswith('num_batches_tracked') else torch.from_numpy(hash_values(k, list(v.shape)))
    torch.save(stem, os.path.join(OUT_DIR, 'tiny_resnet18_stem.pth'))

    def describe(t):
        if t.dtype == torch.int64:
            values = [str(v) for v in t.reshape(-1).tolist()]  # exact beyond 2^53
        else:
            values = [float(v) if t.dtype.is_floating_point else int(v) for v in t.reshape(-1).tolist()]
        return {'shape': list(t.shape), 'dtype': str(t.dtype).replace('torch.', ''), 'values': values}

    expected = {
        'generator': 'scripts/parity/gen_pth_fixture.py',
        'torch': torch.__version__,
        'stateDict': {k: describe(v) for k, v in sd.items()},
    }
    with open(os.path.join(OUT_DIR, 'tiny_pth.json'), 'w') as fh:
        json.dump(expected, fh, indent=1)


if __name__ == '__main__':
    main()
