"""Reference figures for scripts/bench/faster_rcnn.ts: torchvision's fasterrcnn_resnet50_fpn (Faster R-CNN with the
ResNet-50 FPN backbone, P2..P6 with the max-pool level) on the CPU; see torch_common.detector_main for the usage and
the figures.
"""
import torchvision
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.faster_rcnn import FasterRCNN
from torchvision.ops.misc import FrozenBatchNorm2d

from torch_common import detector_main


def build(h, w):
    body = torchvision.models.resnet50(norm_layer=FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(body, 3)
    return FasterRCNN(backbone, num_classes=91, min_size=min(h, w), max_size=max(h, w) * 2)


if __name__ == "__main__":
    detector_main(build)
