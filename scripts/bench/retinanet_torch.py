"""Reference figures for scripts/bench/retinanet.ts: torchvision's retinanet_resnet50_fpn on the CPU.

The model is torchvision's RetinaNet with the ResNet-50 FPN backbone as built with pretrained weights
(FrozenBatchNorm2d, stem and layer1 frozen: trainable_backbone_layers=3), 91 classes, random weights. The input is
one image already at the benchmark size (shorter side 512), so GeneralizedRCNNTransform's resize is a scale of 1.

Prints one JSON object: the figures of torch_common.detector_figures (inference and one SGD training step at batch 1).
Usage: python3 retinanet_torch.py HEIGHT WIDTH REPEATS THREADS
"""
import json
import sys

import torchvision
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.retinanet import RetinaNet
from torchvision.ops.feature_pyramid_network import LastLevelP6P7
from torchvision.ops.misc import FrozenBatchNorm2d

from torch_common import detector_figures, set_threads


def main():
    h, w = int(sys.argv[1]), int(sys.argv[2])
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    set_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 2)
    body = torchvision.models.resnet50(norm_layer=FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(body, 3, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
    model = RetinaNet(backbone, num_classes=91, min_size=min(h, w), max_size=max(h, w) * 2)
    print(json.dumps(detector_figures(model, h, w, repeats)))


if __name__ == "__main__":
    main()
