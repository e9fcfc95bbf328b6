#!/usr/bin/env python3
"""torchvision's published weight files and their class names: test/golden/torchvision_weights.json.

For every weight enum of the models resvision can load (the ImageNet ResNets, wide ResNets and ResNeXts; RetinaNet,
Faster R-CNN, FCN and DeepLabV3 on a ResNet-50/101), the file URL, the enum's DEFAULT, the category list it ships
with (`meta['categories']`: ImageNet 1000, COCO 91 with '__background__' and 'N/A', VOC 21) and its headline metric.
src/weights/torchvision_hub.ts and src/weights/categories.ts are checked against this file by
test/weights/torchvision_hub.test.ts.

Run by hand, never in CI:  /usr/bin/python3 scripts/parity/gen_torchvision_weights.py
"""
import json
import os

import torchvision
import torchvision.models as M
import torchvision.models.detection as D
import torchvision.models.segmentation as S

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'golden', 'torchvision_weights.json')

MODELS = {
    'resnet18': M.ResNet18_Weights,
    'resnet34': M.ResNet34_Weights,
    'resnet50': M.ResNet50_Weights,
    'resnet101': M.ResNet101_Weights,
    'resnet152': M.ResNet152_Weights,
    'wide_resnet50_2': M.Wide_ResNet50_2_Weights,
    'wide_resnet101_2': M.Wide_ResNet101_2_Weights,
    'resnext50_32x4d': M.ResNeXt50_32X4D_Weights,
    'resnext101_32x8d': M.ResNeXt101_32X8D_Weights,
    'resnext101_64x4d': M.ResNeXt101_64X4D_Weights,
    'retinanet_resnet50_fpn': D.RetinaNet_ResNet50_FPN_Weights,
    'fasterrcnn_resnet50_fpn': D.FasterRCNN_ResNet50_FPN_Weights,
    'fcn_resnet50': S.FCN_ResNet50_Weights,
    'fcn_resnet101': S.FCN_ResNet101_Weights,
    'deeplabv3_resnet50': S.DeepLabV3_ResNet50_Weights,
    'deeplabv3_resnet101': S.DeepLabV3_ResNet101_Weights,
}


def category_set(categories):
    n = len(categories)
    return {1000: 'imagenet', 91: 'coco', 21: 'voc'}[n]


def main():
    weights, defaults, categories = {}, {}, {}
    for model, enum in MODELS.items():
        defaults[model] = enum.DEFAULT.name
        for w in enum:
            key = category_set(w.meta['categories'])
            categories.setdefault(key, list(w.meta['categories']))
            assert categories[key] == list(w.meta['categories']), (model, w.name)
            metrics = next(iter(w.meta['_metrics'].values()))
            weights[f'{model}.{w.name}'] = {'url': w.url, 'categories': key, 'numParams': w.meta['num_params'], 'metrics': metrics}
    out = {
        'generator': 'scripts/parity/gen_torchvision_weights.py',
        'torchvision': torchvision.__version__,
        'weights': weights,
        'defaults': defaults,
        'categories': categories,
    }
    with open(OUT, 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')
    print(f'{OUT}: {len(weights)} weights')


if __name__ == '__main__':
    main()
