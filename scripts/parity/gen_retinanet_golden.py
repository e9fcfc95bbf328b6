#!/usr/bin/env python3
"""Golden files for RetinaNet parity: test/golden/retinanet_resnet50_fpn.json, test/golden/retinanet_postprocess.json.

torchvision's RetinaNet v1 (retinanet_resnet50_fpn: ResNet-50 with FrozenBatchNorm2d, FPN on layer2..layer4,
LastLevelP6P7(256, 256), i.e. P6 from P5) with num_classes=7 gets every state tensor from the integer hash of
(state-dict name, element index) of src/weights/hash_init.ts (the same as gen_resnet_golden.py). On a hash input
[2, 3, 96, 128] (already normalized; GeneralizedRCNNTransform is not used) it records, in eval mode:
  - the state dict (names, shapes, dtypes, float32-bit checksums);
  - FPN outputs P3..P7 and head outputs per level (cls logits [N, Hi*Wi*A, K], box regression [N, Hi*Wi*A, 4]):
    sum, sum |x|, mean, max |x| and 64 samples each;
  - anchors per level (count, sum, 32 samples), from model.anchor_generator on an ImageList of (96, 128) images;
  - detections of model.postprocess_detections (score 0.05, top-1000 per level, batched NMS 0.5, 300 per image)
    and the same boxes mapped to original sizes by transform.postprocess;
  - matched indices of the proposal matcher (IoU 0.5/0.4, low-quality matches) on float32 anchors for a fixed
    target set, and the losses of head.compute_loss with the l1 (v1 default) and giou box losses.

Hash weights saturate the top scores (0.993..0.9997), so near-equal scores may swap between float32 and float64;
each image records `robustPrefix`, the detections before the first consecutive score gap below 1e-6.

retinanet_postprocess.json tests postprocess_detections alone, exactly: synthetic float32 head outputs from the
hash (cls logits 4u - 2.5 with u = hash('postprocess/cls_logits'), box deltas u = hash('postprocess/bbox_regression'),
both [2, R, .] over the anchors of the 96 x 128 input), image sizes (90, 120) and (96, 128) for clipping, float64.

The reference runs in float64 on the float32-rounded weights and input; torch's float32 results are recorded
beside it for scale. The matcher always runs on float32 IoUs (what a float32 model does).

Run by hand, never in CI:  /usr/bin/python3 scripts/parity/gen_retinanet_golden.py
"""
import json
import os
import sys

import torch
import torchvision
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.retinanet import RetinaNet
from torchvision.ops import box_iou
from torchvision.ops.feature_pyramid_network import LastLevelP6P7
from torchvision.ops.misc import FrozenBatchNorm2d

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_resnet_golden import HASH, OUT_DIR, fill, hash_values, rel_err, sample_indices  # noqa: E402

INPUT_SHAPE = (2, 3, 96, 128)
ORIGINAL_SIZES = [(192, 256), (120, 200)]
NUM_CLASSES = 7
LEVELS = ['P3', 'P4', 'P5', 'P6', 'P7']
# Image 0: a box aligned with an anchor, a large box and a small one (only a low-quality match);
# image 1: the whole image and a box with fractional corners.
TARGETS = [
    {'boxes': [[0.0, 0.0, 32.0, 32.0], [10.0, 12.0, 60.0, 70.0], [70.0, 20.0, 120.0, 50.0], [40.0, 40.0, 48.0, 47.0]],
     'labels': [1, 3, 0, 6]},
    {'boxes': [[0.0, 0.0, 128.0, 96.0], [30.5, 40.25, 77.75, 90.0]], 'labels': [5, 2]},
]
MAX_DETECTIONS_STORED = [300, 60]


def build():
    backbone = torchvision.models.resnet50(norm_layer=FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(backbone, 5, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
    return RetinaNet(backbone, num_classes=NUM_CLASSES).eval()


def stats(t, key):
    """Summary of a tensor: sum, sum |x|, mean, max |x|, 64 samples [*index, value] at hashed positions."""
    t64 = t.double()
    shape = list(t.shape)
    return {
        'shape': shape,
        'sum': float(t64.sum()),
        'sumAbs': float(t64.abs().sum()),
        'mean': float(t64.mean()),
        'maxAbs': float(t64.abs().max()),
        'samples': [i + [float(t64[tuple(i)])] for i in sample_indices(key, shape)],
    }


def run(model, x):
    feats = model.backbone(x)
    feats = list(feats.values())
    head = model.head(feats)
    images = ImageList(x, [tuple(x.shape[-2:])] * x.shape[0])
    anchors = model.anchor_generator(images, feats)
    counts = [f.shape[2] * f.shape[3] * model.anchor_generator.num_anchors_per_location()[0] for f in feats]
    split_head = {k: list(v.split(counts, dim=1)) for k, v in head.items()}
    split_anchors = [list(a.split(counts)) for a in anchors]
    dets = model.postprocess_detections(split_head, split_anchors, images.image_sizes)
    dets_orig = model.transform.postprocess([dict(d) for d in dets], images.image_sizes, ORIGINAL_SIZES)
    return feats, head, anchors, counts, split_head, split_anchors, dets, dets_orig


def targets_as(dtype):
    return [{'boxes': torch.tensor(t['boxes'], dtype=dtype), 'labels': torch.tensor(t['labels'], dtype=torch.int64)}
            for t in TARGETS]


def f32(v):
    return float('%.9g' % v)


def postprocess_golden(model, split_anchors, counts):
    R = sum(counts)
    cls = torch.from_numpy(hash_values('postprocess/cls_logits', [2, R, NUM_CLASSES])).double() * 4 - 2.5
    reg = torch.from_numpy(hash_values('postprocess/bbox_regression', [2, R, 4])).double()
    sizes = [(90, 120), (96, 128)]
    head = {'cls_logits': list(cls.split(counts, dim=1)), 'bbox_regression': list(reg.split(counts, dim=1))}
    dets = model.postprocess_detections(head, split_anchors, sizes)
    above = [[int((torch.sigmoid(c[i]) > model.score_thresh).sum()) for c in head['cls_logits']] for i in range(2)]
    return {
        'generator': 'scripts/parity/gen_retinanet_golden.py',
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'hash': HASH,
        'what': 'RetinaNet.postprocess_detections on synthetic head outputs, float64: cls logits 4u - 2.5 with '
                "u = hash('postprocess/cls_logits') [2, R, 7], box deltas u = hash('postprocess/bbox_regression') "
                '[2, R, 4]; anchors of a 96 x 128 input (P3..P7); image sizes (H, W) below',
        'numClasses': NUM_CLASSES,
        'anchorsPerLevel': counts,
        'imageSizes': [list(s) for s in sizes],
        'postprocess': {'scoreThresh': model.score_thresh, 'nmsThresh': model.nms_thresh,
                        'detectionsPerImage': model.detections_per_img, 'topkCandidates': model.topk_candidates},
        'candidatesAboveThreshold': above,
        'detections': [{'count': int(d['boxes'].shape[0]),
                        'boxes': [[f32(v) for v in b] for b in d['boxes'].tolist()],
                        'scores': [float('%.12g' % v) for v in d['scores'].tolist()],
                        'labels': d['labels'].tolist()} for d in dets],
    }


def main():
    torch.set_grad_enabled(False)
    model = build()
    spec = fill(model)
    x32 = torch.from_numpy(hash_values('input', list(INPUT_SHAPE)))
    r32 = run(model, x32)
    model64 = model.double()
    r64 = run(model64, x32.double())
    feats, head, anchors, counts, split_head, split_anchors, dets, dets_orig = r64
    feats32, head32, anchors32, _, _, _, dets32, _ = r32

    fpn = {}
    for lvl, f, f32_ in zip(LEVELS, feats, feats32):
        s = stats(f, 'fpn/' + lvl)
        s['torchFloat32RelErr'] = rel_err(f32_.double(), f)
        fpn[lvl] = s
    heads = {}
    for key, name in [('cls_logits', 'clsLogits'), ('bbox_regression', 'boxDeltas')]:
        per = {}
        for lvl, t, t32 in zip(LEVELS, split_head[key], head32[key].split(counts, dim=1)):
            s = stats(t, f'{name}/{lvl}')
            s['torchFloat32RelErr'] = rel_err(t32.double(), t)
            per[lvl] = s
        heads[name] = per
    anchor_levels = {}
    for lvl, a, a32 in zip(LEVELS, split_anchors[0], anchors32[0].split(counts)):
        assert torch.equal(a, a32.double()), 'anchors are integers in both precisions'
        anchor_levels[lvl] = {'count': a.shape[0], 'sum': float(a.sum()),
                              'samples': [i + [float(a[tuple(i)])] for i in sample_indices('anchors/' + lvl, list(a.shape))[:32]]}

    detections = []
    for i, (d, do, d32) in enumerate(zip(dets, dets_orig, dets32)):
        n = min(MAX_DETECTIONS_STORED[i], d['boxes'].shape[0])
        gaps = (d['scores'][:-1] - d['scores'][1:]).abs()
        small = torch.where(gaps < 1e-6)[0]
        robust = int(small[0]) if small.numel() else int(d['scores'].shape[0])
        same = d32['labels'].shape == d['labels'].shape and bool(torch.equal(d32['labels'], d['labels']))
        detections.append({
            'count': int(d['boxes'].shape[0]),
            'stored': n,
            'robustPrefix': min(robust, n),
            'boxes': [[f32(v) for v in b] for b in d['boxes'][:n].tolist()],
            'boxesOriginal': [[f32(v) for v in b] for b in do['boxes'][:n].tolist()],
            'scores': [f32(v) for v in d['scores'][:n].tolist()],
            'labels': d['labels'][:n].tolist(),
            'torchFloat32SameLabels': same,
        })

    # Matching on float32 IoUs, as a float32 model does; losses of the float64 head outputs with those matches.
    t32 = targets_as(torch.float32)
    matched = [model.proposal_matcher(box_iou(t['boxes'], a.float())) for t, a in zip(t32, anchors32)]
    t64 = targets_as(torch.float64)
    losses = {}
    reg = model64.head.regression_head
    for kind in ['l1', 'giou']:
        reg._loss_type = kind
        l64 = model64.head.compute_loss(t64, head, anchors, matched)
        l32 = model.compute_loss(t32, head32, anchors32)  # needs no weights: matcher + head losses only
        losses[kind] = {'classification': float(l64['classification']), 'boxRegression': float(l64['bbox_regression']),
                        'torchFloat32': {'classification': float(l32['classification']),
                                         'boxRegression': float(l32['bbox_regression'])}}
    reg._loss_type = 'l1'
    matches = []
    for m in matched:
        fg = torch.where(m >= 0)[0]
        matches.append({'foreground': [[int(a), int(m[a])] for a in fg],
                        'ignored': torch.where(m == -2)[0].tolist(),
                        'numAnchors': int(m.shape[0])})

    golden = {
        'generator': 'scripts/parity/gen_retinanet_golden.py',
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'hash': HASH,
        'model': 'RetinaNet(_resnet_fpn_extractor(resnet50(norm_layer=FrozenBatchNorm2d), 5, [2, 3, 4], '
                 'LastLevelP6P7(256, 256)), num_classes=7): retinanet_resnet50_fpn v1 architecture',
        'numClasses': NUM_CLASSES,
        'input': {'name': 'input', 'shapeNchw': list(INPUT_SHAPE)},
        'imageSizes': [list(INPUT_SHAPE[2:])] * INPUT_SHAPE[0],
        'originalSizes': [list(s) for s in ORIGINAL_SIZES],
        'reference': 'float64 forward of the float32-rounded weights and input, eval mode',
        'postprocess': {'scoreThresh': model.score_thresh, 'nmsThresh': model.nms_thresh,
                        'detectionsPerImage': model.detections_per_img, 'topkCandidates': model.topk_candidates},
        'stateDict': spec,
        'fpn': fpn,
        'head': heads,
        'anchors': anchor_levels,
        'detections': detections,
        'targets': TARGETS,
        'matches': matches,
        'losses': losses,
    }
    path = os.path.join(OUT_DIR, 'retinanet_resnet50_fpn.json')
    with open(path + '.tmp', 'w') as fh:
        json.dump(golden, fh, separators=(',', ':'))
    os.replace(path + '.tmp', path)
    post = postprocess_golden(model64, split_anchors, counts)
    path = os.path.join(OUT_DIR, 'retinanet_postprocess.json')
    with open(path + '.tmp', 'w') as fh:
        json.dump(post, fh, separators=(',', ':'))
    os.replace(path + '.tmp', path)
    print('postprocess', [d['count'] for d in post['detections']], os.path.getsize(path), file=sys.stderr)
    print('params', len(spec), 'bytes', os.path.getsize(path),
          'dets', [d['count'] for d in detections], 'same32', [d['torchFloat32SameLabels'] for d in detections],
          'losses', losses, 'fg', [len(m['foreground']) for m in matches], 'ign', [len(m['ignored']) for m in matches],
          {k: v['torchFloat32RelErr'] for k, v in fpn.items()}, file=sys.stderr)


if __name__ == '__main__':
    main()
