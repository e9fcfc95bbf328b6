/**
 * Every model declares the multiple its batches are padded to, derived from its parts: the stride of the coarsest
 * backbone level it reads (RetinaNet and Faster R-CNN: C5 = 32, torchvision's `size_divisible=32`; Semantic FPN:
 * P5 = 32; FCN / DeepLabV3: C5 at the output stride, 8 or 16) or 1 where any size works (the classifier's global
 * pooling). The collates read it from the model. `specOf` reads one level's spec or names the levels given.
 */
import { expect } from 'chai';
import { ResNetClassifier } from '../../heads/classification/model';
import { fasterrcnnResnet18Fpn } from '../../heads/detection/faster_rcnn';
import { RetinaNet, retinanetResnet18Fpn } from '../../heads/detection/model';
import { SegmentationModel } from '../../heads/segmentation/model';
import { semanticFpnResnet18 } from '../../heads/segmentation/semantic_fpn';
import { specOf } from '../../src/backbone/features';
import { resnet18, resnet50 } from '../../src/backbone/resnet';
import type { Module } from '../../src/nn/module';

describe('model size divisibility', () => {
  const cases: [string, () => Module & { sizeDivisibility: number }, number][] = [
    ['ResNetClassifier (global pooling)', () => new ResNetClassifier(resnet18(), 7), 1],
    ['RetinaNet on C3..C5', () => retinanetResnet18Fpn({ numClasses: 7 }), 32],
    // FPN on C2..C4: the top input level C4 has stride 16.
    ['RetinaNet on C2..C4', () => new RetinaNet(resnet18({ outLevels: ['C2', 'C3', 'C4'] }), { numClasses: 7, inLevels: ['C2', 'C3', 'C4'], anchorSizes: [[32], [64], [128], [256], [512]] }), 16],
    ['Faster R-CNN', () => fasterrcnnResnet18Fpn({ numClasses: 7 }), 32],
    ['Semantic FPN', () => semanticFpnResnet18({ numClasses: 7 }), 32],
    ['FCN at output stride 8', () => new SegmentationModel(resnet50({ replaceStrideWithDilation: [false, true, true], outLevels: ['C5'] }), { numClasses: 7, head: { type: 'fcn' } }), 8],
    ['FCN at output stride 16', () => new SegmentationModel(resnet50({ replaceStrideWithDilation: [false, false, true], outLevels: ['C5'] }), { numClasses: 7, head: { type: 'fcn' } }), 16],
  ];
  for (const [name, build, expected] of cases) {
    it(`${name}: ${expected}`, () => {
      const m = build();
      try {
        expect(m.sizeDivisibility).to.equal(expected);
      } finally {
        m.dispose();
      }
    });
  }

  it('specOf: the spec of a level given; a level not given throws naming those given', () => {
    const bb = resnet18({ outLevels: ['C2', 'C3'] });
    try {
      expect(specOf(bb.featureSpecs(), 'C3', 'test')).to.deep.equal({ channels: 128, stride: 8 });
      expect(() => specOf(bb.featureSpecs(), 'C5', 'FPN')).to.throw('FPN: no level C5; the specs give C2, C3');
    } finally {
      bb.dispose();
    }
  });
});
