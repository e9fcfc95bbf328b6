"""Reference figures for scripts/bench/faster_rcnn.ts: torchvision's fasterrcnn_resnet50_fpn on the CPU.

The model is torchvision's Faster R-CNN with the ResNet-50 FPN backbone as built with pretrained weights
(FrozenBatchNorm2d, stem and layer1 frozen: trainable_backbone_layers=3), 91 classes, random weights. The input is
one image already at the benchmark size (shorter side 512), so GeneralizedRCNNTransform's resize is a scale of 1.

Prints one JSON object: inference latency (eval mode, batch 1, with post-processing) and one SGD training step
(batch 1, two ground-truth boxes; momentum 0.9, weight decay 1e-4), medians in ms, torch threads, peak RSS.
Usage: python3 faster_rcnn_torch.py HEIGHT WIDTH REPEATS THREADS
"""
import json
import resource
import statistics
import sys
import time

import torch
import torchvision
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.faster_rcnn import FasterRCNN
from torchvision.ops.misc import FrozenBatchNorm2d


def median_ms(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def main():
    h, w = int(sys.argv[1]), int(sys.argv[2])
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    body = torchvision.models.resnet50(norm_layer=FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(body, 3)
    model = FasterRCNN(backbone, num_classes=91, min_size=min(h, w), max_size=max(h, w) * 2)
    image = torch.rand(3, h, w)
    model.eval()
    with torch.no_grad():
        infer = median_ms(lambda: model([image]), 1, repeats)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)
    target = {"boxes": torch.tensor([[10.0, 10.0, 60.0, 70.0], [100.0, 100.0, 150.0, 140.0]]), "labels": torch.tensor([1, 2])}

    def step():
        opt.zero_grad()
        losses = model([image], [target])
        sum(losses.values()).backward()
        opt.step()

    train = median_ms(step, 1, repeats)
    print(json.dumps({
        "impl": "torchvision",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "threads": torch.get_num_threads(),
        "inference_b1_ms": infer,
        "train_step_b1_ms": train,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


if __name__ == "__main__":
    main()
