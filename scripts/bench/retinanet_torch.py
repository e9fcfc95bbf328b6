"""Reference figures for scripts/bench/retinanet.ts: torchvision's retinanet_resnet50_fpn (RetinaNet with the ResNet-50
FPN backbone, P3..P7 with P6/P7 from P5) on the CPU; see torch_common.detector_main for the usage and the figures.
"""
import torchvision
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.retinanet import RetinaNet
from torchvision.ops.feature_pyramid_network import LastLevelP6P7
from torchvision.ops.misc import FrozenBatchNorm2d

from torch_common import detector_main


def build(h, w):
    body = torchvision.models.resnet50(norm_layer=FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(body, 3, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
    return RetinaNet(backbone, num_classes=91, min_size=min(h, w), max_size=max(h, w) * 2)


if __name__ == "__main__":
    detector_main(build)
