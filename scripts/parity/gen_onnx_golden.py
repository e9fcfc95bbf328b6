#!/usr/bin/env python3
"""Golden file for ONNX export parity: test/golden/onnx_torchvision.json.

Five torchvision models get every state tensor from the integer hash of src/weights/hash_init.ts (the same
definition as gen_resnet_golden.py) and run, in eval mode and float32, on a hash-generated input ('images'):
  classifier    resnet18(num_classes=7)                        [2, 3, 64, 96]  -> logits
  features      resnet50 layer1..layer4 (C2..C5) + avgpool      [1, 3, 64, 64]  -> C2..C5, pooled
  retinanet     retinanet_resnet50_fpn(num_classes=3) backbone + head + anchor generator
                                                                [1, 3, 96, 128] -> clsLogits, boxDeltas, anchors
  fcn           fcn_resnet50(num_classes=5, aux_loss=True)      [1, 3, 48, 40]  -> logits, auxLogits
  deeplabv3     deeplabv3_resnet50(num_classes=5)               [1, 3, 48, 40]  -> logits
Each is also exported with torch.onnx.export (opset 17, dynamic batch/height/width, input 'images', outputs named
as resvision's exporter names them) and that ONNX file is run in onnxruntime-node (scripts/parity/onnx_outputs.ts).
For every output the file records the shape (NCHW), sum, sum of |x|, max |x| and 64 values at fixed flat indices,
for torch's own forward (`torch`) and for ONNX Runtime on torch's export (`torchOnnx`). The ONNX files themselves
are not kept (tens of MB each).

Run by hand, never in CI:  /usr/bin/python3 scripts/parity/gen_onnx_golden.py
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchvision
from torchvision.models.detection.image_list import ImageList

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_resnet_golden import HASH, fmix32, fnv1a32, hash_values  # noqa: E402

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
OUT = os.path.join(REPO, 'test', 'golden', 'onnx_torchvision.json')
NUM_SAMPLES = 64
OPSET = 17


class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.m = torchvision.models.resnet18(num_classes=7)

    def forward(self, images):
        return self.m(images)


class Features(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.m = torchvision.models.resnet50()
        del self.m.fc

    def forward(self, images):
        m = self.m
        x = m.maxpool(m.relu(m.bn1(m.conv1(images))))
        c2 = m.layer1(x)
        c3 = m.layer2(c2)
        c4 = m.layer3(c3)
        c5 = m.layer4(c4)
        return c2, c3, c4, c5, torch.flatten(m.avgpool(c5), 1)


class RetinaNetRaw(torch.nn.Module):
    """RetinaNet without its transform and post-processing: head outputs and the anchors of the input size."""

    def __init__(self):
        super().__init__()
        self.m = torchvision.models.detection.retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=3)

    def forward(self, images):
        feats = list(self.m.backbone(images).values())
        out = self.m.head(feats)
        size = (images.shape[-2], images.shape[-1])
        anchors = self.m.anchor_generator(ImageList(images, [size] * images.shape[0]), feats)[0]
        return out['cls_logits'], out['bbox_regression'], anchors


class Segmentation(torch.nn.Module):
    def __init__(self, builder, aux):
        super().__init__()
        self.m = builder(weights=None, weights_backbone=None, num_classes=5, aux_loss=aux)
        self.aux = aux

    def forward(self, images):
        out = self.m(images)
        return (out['out'], out['aux']) if self.aux else out['out']


MODELS = [
    # name, module factory, input shape, output names, state-dict prefix to drop (our name tables)
    ('classifier', Classifier, (2, 3, 64, 96), ['logits'], 'm.'),
    ('features', Features, (1, 3, 64, 64), ['C2', 'C3', 'C4', 'C5', 'pooled'], 'm.'),
    ('retinanet', RetinaNetRaw, (1, 3, 96, 128), ['clsLogits', 'boxDeltas', 'anchors'], 'm.'),
    ('fcn', lambda: Segmentation(torchvision.models.segmentation.fcn_resnet50, True), (1, 3, 48, 40), ['logits', 'auxLogits'], 'm.'),
    ('deeplabv3', lambda: Segmentation(torchvision.models.segmentation.deeplabv3_resnet50, False), (1, 3, 48, 40), ['logits'], 'm.'),
]


def sample_flat(key, n):
    x = fmix32(np.uint64(fnv1a32('sample/' + key)) ^ np.arange(NUM_SAMPLES, dtype=np.uint64))
    return [int(i) for i in (x % np.uint64(n)).astype(np.int64)]


def stats(key, a):
    a = np.asarray(a, dtype=np.float64)
    flat = a.reshape(-1)
    return {
        'shape': list(a.shape),
        'sum': float(flat.sum()),
        'sumAbs': float(np.abs(flat).sum()),
        'maxAbs': float(np.abs(flat).max()),
        'samples': [[i, float(flat[i])] for i in sample_flat(key, flat.size)],
    }


def fill_hashed(module, prefix):
    """Fill `module`'s state from the hash of each tensor's name without `prefix` (torchvision's own names)."""
    with torch.no_grad():
        for name, t in module.state_dict().items():
            tv = name[len(prefix):]
            if tv.endswith('num_batches_tracked'):
                t.zero_()
            else:
                t.copy_(torch.from_numpy(hash_values(tv, list(t.shape))))


def main():
    golden = {
        'generator': 'scripts/parity/gen_onnx_golden.py (torch.onnx export run by scripts/parity/onnx_outputs.ts)',
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'opset': OPSET,
        'hash': HASH,
        'layout': 'every array NCHW / row-major as torchvision returns it; samples are [flat index, value]',
        'models': {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, factory, shape, outputs, prefix in MODELS:
            module = factory().eval()
            fill_hashed(module, prefix)
            x = torch.from_numpy(hash_values('images', list(shape)))
            with torch.no_grad():
                out = module(x)
            out = out if isinstance(out, tuple) else (out,)
            onnx_file = os.path.join(tmp, name + '.onnx')
            dynamic = {'images': {0: 'N', 2: 'H', 3: 'W'}}
            torch.onnx.export(module, (x,), onnx_file, opset_version=OPSET, input_names=['images'],
                              output_names=outputs, dynamic_axes=dynamic, do_constant_folding=True)
            input_file = os.path.join(tmp, name + '.f32')
            x.numpy().astype('<f4').tofile(input_file)
            ort = subprocess.run(['npx', 'tsx', 'scripts/parity/onnx_outputs.ts', onnx_file, input_file,
                                  ','.join(map(str, shape))], cwd=REPO, check=True, capture_output=True, text=True)
            ort_out = json.loads(ort.stdout)
            entry = {'input': {'name': 'images', 'shapeNchw': list(shape)}, 'torch': {}, 'torchOnnx': {}, 'stateDict': []}
            entry['stateDict'] = [[k[len(prefix):], list(v.shape)] for k, v in module.state_dict().items()]
            for oname, t in zip(outputs, out):
                a = t.numpy()
                entry['torch'][oname] = stats(f'{name}/{oname}', a)
                o = ort_out[oname]
                b = np.asarray(o['data'], dtype=np.float32).reshape(o['dims'])
                entry['torchOnnx'][oname] = stats(f'{name}/{oname}', b)
                err = float(np.abs(b.astype(np.float64) - a).max() / max(np.abs(a).max(), 1e-30))
                entry['torchOnnx'][oname]['relErrToTorch'] = err
                print(name, oname, list(a.shape), 'maxAbs', float(np.abs(a).max()), 'torch.onnx+ORT rel err', err, file=sys.stderr)
            golden['models'][name] = entry
    with open(OUT + '.tmp', 'w') as fh:
        json.dump(golden, fh, separators=(',', ':'))
    os.replace(OUT + '.tmp', OUT)


if __name__ == '__main__':
    main()
