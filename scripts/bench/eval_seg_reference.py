#!/usr/bin/env python3
"""NumPy/PIL reference of `resvision eval-seg`: dataset-level confusion matrix and VOC segmentation metrics.

Reads <gt>/<name>.png and <pred>/<name>.png with PIL (np.array of a mode P / L image gives the indices), counts
pixels whose ground truth is not the ignore index with one np.bincount over K x (K + 1) cells (column K: predictions
outside [0, K)), and computes per-class IoU and Acc (None where undefined), aAcc, mIoU, mAcc (means over defined
classes), as torchvision references/segmentation/utils.py ConfusionMatrix and mmseg IoUMetric do.

  /usr/bin/python3 scripts/bench/eval_seg_reference.py --gt DIR --pred DIR [--list FILE] [--num-classes 21]
      [--ignore-index 255] [--repeat 5] [--out metrics.json]

Prints one JSON object: the metrics, and timing (best of --repeat full passes, PNG decoding included).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import PIL
from PIL import Image


def evaluate(gt_dir, pred_dir, names, k, ignore):
    counts = np.zeros(k * (k + 1), dtype=np.int64)
    for name in names:
        gt = np.array(Image.open(os.path.join(gt_dir, name + '.png'))).astype(np.int64).reshape(-1)
        pred = np.array(Image.open(os.path.join(pred_dir, name + '.png'))).astype(np.int64).reshape(-1)
        if gt.shape != pred.shape:
            raise ValueError(f'{name}: size mismatch')
        keep = gt != ignore
        g = gt[keep]
        p = pred[keep]
        p = np.where((p >= 0) & (p < k), p, k)
        counts += np.bincount(g * (k + 1) + p, minlength=k * (k + 1))
    return counts.reshape(k, k + 1)


def metrics(cm, k, ignore):
    tp = np.diag(cm[:, :k]).astype(np.float64)
    gt_area = cm.sum(1).astype(np.float64)
    pred_area = cm[:, :k].sum(0).astype(np.float64)
    union = gt_area + pred_area - tp
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = tp / union
        acc = tp / gt_area
    total = gt_area.sum()
    return {
        'num_classes': k,
        'ignore_index': ignore,
        'aAcc': float(tp.sum() / total) if total > 0 else None,
        'mIoU': float(np.nanmean(iou)) if np.any(union > 0) else None,
        'mAcc': float(np.nanmean(acc)) if np.any(gt_area > 0) else None,
        'IoU': [None if np.isnan(v) else float(v) for v in iou],
        'Acc': [None if np.isnan(v) else float(v) for v in acc],
        'confusion_matrix_rows_gt_cols_pred': cm[:, :k].tolist(),
        'gt_pixels_with_out_of_range_prediction': cm[:, k].tolist(),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--gt', required=True)
    ap.add_argument('--pred', required=True)
    ap.add_argument('--list')
    ap.add_argument('--num-classes', type=int, default=21)
    ap.add_argument('--ignore-index', type=int, default=255)
    ap.add_argument('--repeat', type=int, default=5)
    ap.add_argument('--out')
    a = ap.parse_args()
    if a.list:
        with open(a.list) as fh:
            names = [l.strip() for l in fh if l.strip()]
    else:
        names = sorted(f[:-4] for f in os.listdir(a.gt) if f.endswith('.png'))
    times = []
    for _ in range(max(1, a.repeat)):
        t0 = time.perf_counter()
        cm = evaluate(a.gt, a.pred, names, a.num_classes, a.ignore_index)
        times.append(time.perf_counter() - t0)
    m = metrics(cm, a.num_classes, a.ignore_index)
    if a.out:
        doc = {'generator': 'scripts/bench/eval_seg_reference.py', 'numpy': np.__version__, 'PIL': PIL.__version__,
               'list': names, **m}
        with open(a.out + '.tmp', 'w') as fh:
            json.dump(doc, fh, indent=1)
        os.replace(a.out + '.tmp', a.out)
    best = min(times)
    print(json.dumps({'impl': 'numpy+PIL', 'numpy': np.__version__, 'PIL': PIL.__version__, 'images': len(names),
                      'bestSeconds': best, 'imagesPerSecond': len(names) / best, 'mIoU': m['mIoU']}))


if __name__ == '__main__':
    sys.exit(main())
