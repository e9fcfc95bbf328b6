#!/usr/bin/env python3
"""Golden file for Faster R-CNN parity: test/golden/faster_rcnn_resnet50_fpn.json.

torchvision's fasterrcnn_resnet50_fpn architecture (ResNet-50 with FrozenBatchNorm2d, FPN on layer1..layer4 with the
LastLevelMaxPool P6, RPN with AnchorGenerator((32,), .. (512,)) x (0.5, 1, 2), MultiScaleRoIAlign(P2..P5, 7, 2),
TwoMLPHead(256 * 7 * 7, 1024), FastRCNNPredictor(1024, K + 1)) with K = 7 classes (+ background) gets every state
tensor from the hash of src/weights/hash_init.ts. GeneralizedRCNNTransform is bypassed: the hash input
[2, 3, 128, 160] is already normalized and padded, with content sizes (128, 160) and (120, 150).

Recorded, in eval mode unless said:
  - the state dict (names, shapes, dtypes, checksums);
  - FPN outputs P2..P6, RPN objectness and deltas per level (statistics and samples), anchors per level;
  - proposals after NMS (inference: pre/post NMS top-n 1000/1000), rounded to float32; every later stage below is
    computed from these float32 proposals, so that a test can feed them as they are;
  - RoIAlign features (MultiScaleRoIAlign) and box head outputs (class logits, box regression): statistics, samples;
  - detections of roi_heads.postprocess_detections (score 0.05, NMS 0.5, 100 per image);
  - losses on fixed targets with sampling made deterministic (a BalancedPositiveNegativeSampler that takes the first
    positives and negatives in index order instead of a random permutation): the RPN losses (training mode), the
    RoI-head losses given the recorded proposals (training mode: ground truth appended, 512 RoIs at 25%), and the
    losses of the whole training forward (RPN training top-n 2000/2000 feeding the RoI heads).

The reference runs in float64 on the float32-rounded weights and input (losses and matching included).
Labels in 'targets' are the project's 0..K-1; torchvision sees them + 1.

With `--save-pth FILE` it also writes the hash-filled model's state_dict() with torch.save (a 160 MB
fasterrcnn_resnet50_fpn checkpoint, too large to commit): test/heads/detection/faster_rcnn_parity.test.ts loads it
through the .pth reader when RESVISION_FASTER_RCNN_PTH names it.

Run by hand, never in CI:  /usr/bin/python3 scripts/parity/gen_faster_rcnn_golden.py [--save-pth FILE]
"""
import json
import os
import sys

import torch
import torchvision
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.faster_rcnn import FasterRCNN
from torchvision.models.detection.image_list import ImageList
from torchvision.ops.misc import FrozenBatchNorm2d

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_resnet_golden import HASH, OUT_DIR, fill, hash_values, rel_err, sample_indices  # noqa: E402

INPUT_SHAPE = (2, 3, 128, 160)
IMAGE_SIZES = [(128, 160), (120, 150)]
NUM_CLASSES = 7
LEVELS = ['P2', 'P3', 'P4', 'P5', 'P6']
TARGETS = [
    {'boxes': [[10.0, 12.0, 60.0, 70.0], [70.0, 20.0, 150.0, 110.0], [40.0, 40.0, 52.0, 49.0]], 'labels': [0, 3, 6]},
    {'boxes': [[0.0, 0.0, 150.0, 120.0], [30.5, 40.25, 77.75, 90.0]], 'labels': [5, 2]},
]


class FirstSampler(det_utils.BalancedPositiveNegativeSampler):
    """BalancedPositiveNegativeSampler taking the first candidates in index order (no randperm)."""

    def __call__(self, matched_idxs):
        pos_idx, neg_idx = [], []
        for m in matched_idxs:
            positive = torch.where(m >= 1)[0]
            negative = torch.where(m == 0)[0]
            num_pos = min(positive.numel(), int(self.batch_size_per_image * self.positive_fraction))
            num_neg = min(negative.numel(), self.batch_size_per_image - num_pos)
            pm = torch.zeros_like(m, dtype=torch.uint8)
            nm = torch.zeros_like(m, dtype=torch.uint8)
            pm[positive[:num_pos]] = 1
            nm[negative[:num_neg]] = 1
            pos_idx.append(pm)
            neg_idx.append(nm)
        return pos_idx, neg_idx


def build():
    backbone = _resnet_fpn_extractor(torchvision.models.resnet50(norm_layer=FrozenBatchNorm2d), 5)
    model = FasterRCNN(backbone, num_classes=NUM_CLASSES + 1).eval()
    model.rpn.fg_bg_sampler = FirstSampler(256, 0.5)
    model.roi_heads.fg_bg_sampler = FirstSampler(512, 0.25)
    return model


def stats(t, key, n=64):
    t64 = t.double()
    shape = list(t.shape)
    return {'shape': shape, 'sum': float(t64.sum()), 'sumAbs': float(t64.abs().sum()), 'maxAbs': float(t64.abs().max()),
            'samples': [i + [float(t64[tuple(i)])] for i in sample_indices(key, shape)[:n]]}


def f9(v):
    return float('%.9g' % v)


def targets_t(dtype):
    return [{'boxes': torch.tensor(t['boxes'], dtype=dtype), 'labels': torch.tensor(t['labels'], dtype=torch.int64) + 1}
            for t in TARGETS]


def main():
    torch.set_grad_enabled(False)
    model = build()
    spec = fill(model)
    if '--save-pth' in sys.argv:
        torch.save(model.state_dict(), sys.argv[sys.argv.index('--save-pth') + 1])
    x32 = torch.from_numpy(hash_values('input', list(INPUT_SHAPE)))
    with torch.no_grad():
        feats32 = model.backbone(x32)
    model = model.double()
    x = x32.double()
    feats = model.backbone(x)
    flist = list(feats.values())
    images = ImageList(x, IMAGE_SIZES)
    objectness, deltas = model.rpn.head(flist)
    anchors = model.rpn.anchor_generator(images, flist)
    A = model.rpn.anchor_generator.num_anchors_per_location()[0]
    counts = [f.shape[2] * f.shape[3] * A for f in flist]

    fpn = {}
    for lvl, f, f32 in zip(LEVELS, flist, feats32.values()):
        s = stats(f, 'frcnn/fpn/' + lvl)
        s['torchFloat32RelErr'] = rel_err(f32.double(), f)
        fpn[lvl] = s
    rpn = {'objectness': {}, 'deltas': {}}
    for lvl, o, d in zip(LEVELS, objectness, deltas):
        n, _, h, w = o.shape
        # NCHW -> rows (y, x, anchor): torchvision's permute_and_flatten.
        rpn['objectness'][lvl] = stats(o.permute(0, 2, 3, 1).reshape(n, -1), 'frcnn/objectness/' + lvl)
        rpn['deltas'][lvl] = stats(d.view(n, A, 4, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, 4), 'frcnn/deltas/' + lvl)
    anchor_levels = {}
    for lvl, a in zip(LEVELS, anchors[0].split(counts)):
        anchor_levels[lvl] = {'count': a.shape[0], 'sum': float(a.sum()),
                              'samples': [i + [float(a[tuple(i)])] for i in sample_indices('frcnn/anchors/' + lvl, list(a.shape))[:32]]}

    model.rpn.eval()
    proposals, _ = model.rpn(images, feats)
    proposals = [p.float().double() for p in proposals]
    pooled = model.roi_heads.box_roi_pool(feats, proposals, IMAGE_SIZES)
    box_features = model.roi_heads.box_head(pooled)
    class_logits, box_regression = model.roi_heads.box_predictor(box_features)
    boxes, scores, labels = model.roi_heads.postprocess_detections(class_logits, box_regression, proposals, IMAGE_SIZES)
    detections = []
    for b, s, l in zip(boxes, scores, labels):
        gaps = (s[:-1] - s[1:]).abs()
        small = torch.where(gaps < 1e-6)[0]
        robust = int(small[0]) if small.numel() else int(s.shape[0])
        detections.append({'count': int(b.shape[0]), 'robustPrefix': robust, 'boxes': [[f9(v) for v in bb] for bb in b.tolist()],
                           'scores': [f9(v) for v in s.tolist()], 'labels': [int(v) - 1 for v in l.tolist()]})

    t64 = targets_t(torch.float64)
    model.rpn.train()
    _, rpn_losses = model.rpn(images, feats, t64)
    model.roi_heads.train()
    _, roi_losses = model.roi_heads(feats, [p.clone() for p in proposals], IMAGE_SIZES, t64)
    train_props, train_rpn_losses = model.rpn(images, feats, t64)
    _, train_roi_losses = model.roi_heads(feats, train_props, IMAGE_SIZES, t64)
    model.eval()

    golden = {
        'generator': 'scripts/parity/gen_faster_rcnn_golden.py',
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'hash': HASH,
        'model': 'FasterRCNN(_resnet_fpn_extractor(resnet50(norm_layer=FrozenBatchNorm2d), 5), num_classes=8): '
                 'fasterrcnn_resnet50_fpn architecture; samplers take the first candidates',
        'numClasses': NUM_CLASSES,
        'input': {'name': 'input', 'shapeNchw': list(INPUT_SHAPE)},
        'imageSizes': [list(s) for s in IMAGE_SIZES],
        'reference': 'float64 forward of the float32-rounded weights and input',
        'stateDict': spec,
        'fpn': fpn,
        'rpn': rpn,
        'anchors': anchor_levels,
        'proposals': [{'count': int(p.shape[0]), 'boxes': [f9(v) for v in p.reshape(-1).tolist()]} for p in proposals],
        'roiAlign': stats(pooled, 'frcnn/pooled'),
        'boxHead': {'classLogits': stats(class_logits, 'frcnn/class_logits'), 'boxRegression': stats(box_regression, 'frcnn/box_regression')},
        'detections': detections,
        'targets': TARGETS,
        'losses': {
            'rpn': {'objectness': float(rpn_losses['loss_objectness']), 'boxRegression': float(rpn_losses['loss_rpn_box_reg'])},
            'roiHeadsOnProposals': {'classification': float(roi_losses['loss_classifier']), 'boxRegression': float(roi_losses['loss_box_reg'])},
            'training': {'rpnObjectness': float(train_rpn_losses['loss_objectness']), 'rpnBoxRegression': float(train_rpn_losses['loss_rpn_box_reg']),
                         'classification': float(train_roi_losses['loss_classifier']), 'boxRegression': float(train_roi_losses['loss_box_reg']),
                         'trainingProposals': [int(p.shape[0]) for p in train_props]},
        },
    }
    path = os.path.join(OUT_DIR, 'faster_rcnn_resnet50_fpn.json')
    with open(path + '.tmp', 'w') as fh:
        json.dump(golden, fh, separators=(',', ':'))
    os.replace(path + '.tmp', path)
    print('bytes', os.path.getsize(path), 'proposals', [p['count'] for p in golden['proposals']],
          'dets', [d['count'] for d in detections], 'robust', [d['robustPrefix'] for d in detections],
          'losses', golden['losses'], file=sys.stderr)


if __name__ == '__main__':
    main()
