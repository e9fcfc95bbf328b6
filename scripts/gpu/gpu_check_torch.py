"""torchvision counterpart of scripts/gpu/gpu_check.ts, on the same GPU through CUDA, in one JSON line.

ResNet-50 forward at batch 1 and 8 (224x224, eval mode), a ResNet-50 SGD training step at batch 16 (momentum 0.9,
weight decay 1e-4), a RetinaNet-R50-FPN SGD training step at batch 2 on 512x683 images (padded to 512x704 by the transform, as
resvision's collate does; two boxes per image; frozen BN and stem and
layer1 frozen, as with pretrained weights; min_size 512 so that GeneralizedRCNNTransform's resize is a scale of 1). Medians of --repeats runs after one warm-up; each run ends with
torch.cuda.synchronize(). Float32 only: TF32 matmul/conv is disabled so that both sides compute in the same
precision.

    python3 scripts/gpu/gpu_check_torch.py [--repeats 5] [--skip-large]
"""
import json
import os
import statistics
import sys
import time

import torch
import torchvision
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.retinanet import RetinaNet
from torchvision.ops.feature_pyramid_network import LastLevelP6P7
from torchvision.ops.misc import FrozenBatchNorm2d


def arg(name, fallback):
    if f"--{name}" in sys.argv:
        i = sys.argv.index(f"--{name}")
        if i + 1 < len(sys.argv):
            return sys.argv[i + 1]
    return fallback


def median_ms(fn, repeats):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1000.0)
    return round(statistics.median(times), 1)


def main():
    repeats = int(arg("repeats", "5"))
    report = {"check": "torchvision-gpu", "torch": torch.__version__, "torchvision": torchvision.__version__,
              "loadavg": [round(v, 2) for v in os.getloadavg()]}
    if not torch.cuda.is_available():
        report["error"] = "torch.cuda.is_available() is False"
        print(json.dumps(report))
        return
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    report["gpu"] = torch.cuda.get_device_name(0)
    report["cuda"] = torch.version.cuda
    torch.manual_seed(0)

    r50 = torchvision.models.resnet50().to(dev)
    r50.eval()
    for b in (1, 8):
        x = torch.randn(b, 3, 224, 224, device=dev)
        with torch.no_grad():
            report[f"resnet50_forward_b{b}_ms"] = median_ms(lambda: r50(x), repeats)
    if "--skip-large" not in sys.argv:
        r50.train()
        opt = torch.optim.SGD(r50.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
        x16 = torch.randn(16, 3, 224, 224, device=dev)
        y16 = torch.tensor([(i * 37) % 1000 for i in range(16)], device=dev)

        def step():
            opt.zero_grad()
            torch.nn.functional.cross_entropy(r50(x16), y16).backward()
            opt.step()

        report["resnet50_train_step_b16_ms"] = median_ms(step, repeats)

        # As built with pretrained weights (FrozenBatchNorm2d, trainable_backbone_layers=3), random weights.
        body = torchvision.models.resnet50(norm_layer=FrozenBatchNorm2d)
        backbone = _resnet_fpn_extractor(body, 3, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
        det = RetinaNet(backbone, num_classes=91, min_size=512, max_size=1366).to(dev)
        det.train()
        dopt = torch.optim.SGD([p for p in det.parameters() if p.requires_grad], lr=0.01, momentum=0.9,
                               weight_decay=1e-4)
        images = [torch.randn(3, 512, 683, device=dev) for _ in range(2)]
        targets = [
            {"boxes": torch.tensor([[10., 10., 60., 70.], [100., 100., 150., 140.]], device=dev),
             "labels": torch.tensor([1, 2], device=dev)},
            {"boxes": torch.tensor([[200., 120., 420., 380.], [30., 300., 90., 500.]], device=dev),
             "labels": torch.tensor([6, 18], device=dev)},
        ]

        def det_step():
            dopt.zero_grad()
            losses = det(images, targets)
            sum(losses.values()).backward()
            dopt.step()

        report["retinanet_r50_train_step_b2_512x683_ms"] = median_ms(det_step, min(repeats, 3))
    report["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
