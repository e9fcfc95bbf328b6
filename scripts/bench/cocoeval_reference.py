"""Reference timing for scripts/bench/cocoeval.ts: pycocotools COCOeval (bbox) on the same files.

Usage: python3 scripts/bench/cocoeval_reference.py GT.json RESULTS.json
Prints pycocotools' own output, then one JSON line {"seconds": {...}, "stats": [...]}.
"""
import json
import sys
import time

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def main():
    gt_path, dt_path = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    gt = COCO(gt_path)
    dt = gt.loadRes(dt_path)
    t1 = time.perf_counter()
    E = COCOeval(gt, dt, 'bbox')
    E.evaluate()
    t2 = time.perf_counter()
    E.accumulate()
    t3 = time.perf_counter()
    E.summarize()
    t4 = time.perf_counter()
    print(json.dumps({
        'seconds': {'load': t1 - t0, 'evaluate': t2 - t1, 'accumulate': t3 - t2, 'summarize': t4 - t3, 'total': t4 - t0},
        'stats': [float(s) for s in E.stats],
    }))


if __name__ == '__main__':
    main()
