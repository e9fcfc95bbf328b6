"""Reference figures for scripts/bench/onnx.ts: the same work as the ONNX Runtime side, by torchvision on the CPU,
eval mode, no grad, random weights (torch's default initialization, seed 0).

Usage (the benchmark passes `threads`, and sets OMP_WAIT_POLICY=PASSIVE so torch's pool does not spin between calls):
  onnx_torch.py resnet50 SIZE REPEATS THREADS       resnet50 features (fc replaced by the identity), batch 1 and 8
  onnx_torch.py retinanet H W SCORE_THRESH REPEATS THREADS
                                                    retinanet_resnet50_fpn (91 classes) predict of one H x W image,
                                                    GeneralizedRCNNTransform, decoding and NMS included
  onnx_torch.py deeplabv3 SIZE IMAGES REPEATS THREADS
                                                    deeplabv3_resnet50 (21 classes, no aux) evaluation of IMAGES
                                                    SIZE x SIZE images, one per forward: out.argmax(1) and the
                                                    bincount confusion-matrix update of torchvision's
                                                    references/segmentation/utils.py ConfusionMatrix
Prints one JSON object: median ms per timed figure (after one untimed run), threads, versions.
"""
import json
import sys

import torch
import torchvision

from retinanet_torch import build as build_retinanet
from torch_common import header, median_ms, set_threads


def resnet50(size, repeats):
    model = torchvision.models.resnet50()
    model.fc = torch.nn.Identity()
    model.eval()
    out = {}
    with torch.no_grad():
        for n in (1, 8):
            x = torch.randn(n, 3, size, size)
            out[f"features_b{n}_ms"] = round(median_ms(lambda: model(x), 1, repeats), 1)
    return out


def retinanet(h, w, score_thresh, repeats):
    # FrozenBatchNorm2d backbone as torchvision builds it with pretrained weights (scripts/bench/retinanet_torch.py).
    model = build_retinanet(h, w).eval()
    model.score_thresh = score_thresh
    image = torch.rand(3, h, w)
    count = [0]

    def predict():
        count[0] = len(model([image])[0]["scores"])

    with torch.no_grad():
        ms = median_ms(predict, 1, repeats)
    return {"predict_b1_ms": round(ms, 1), "detections": count[0]}


def deeplabv3(size, images, repeats):
    k = 21
    model = torchvision.models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=k, aux_loss=False).eval()
    xs = [torch.randn(1, 3, size, size) for _ in range(images)]
    gts = [torch.randint(0, k, (1, size, size)) for _ in range(images)]

    def evaluate(n):
        mat = torch.zeros((k, k), dtype=torch.int64)
        for x, target in zip(xs[:n], gts[:n]):
            pred = model(x)["out"].argmax(1)
            a, b = target.flatten(), pred.flatten()
            keep = (a >= 0) & (a < k)
            mat += torch.bincount(k * a[keep].to(torch.int64) + b[keep], minlength=k * k).reshape(k, k)
        return mat

    with torch.no_grad():
        evaluate(1)  # one untimed image, as on the other side
        ms = median_ms(lambda: evaluate(images), 0, repeats)
    return {"eval_batch_ms": round(ms, 1), "eval_per_image_ms": round(ms / images)}


def main():
    model, args = sys.argv[1], [float(a) for a in sys.argv[2:]]
    args = [int(a) if a.is_integer() else a for a in args]
    set_threads(int(args[-1]))
    if model == "resnet50":
        figures = resnet50(args[0], args[1])
    elif model == "retinanet":
        figures = retinanet(args[0], args[1], float(args[2]), args[3])
    elif model == "deeplabv3":
        figures = deeplabv3(args[0], args[1], args[2])
    else:
        raise SystemExit(f"unknown model {model}: resnet50, retinanet or deeplabv3")
    print(json.dumps({**header(), **figures}))


if __name__ == "__main__":
    main()
