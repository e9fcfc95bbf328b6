/**
 * The layers record each variable's layout relative to torch's when they register it (Conv2d kernels `conv2d`,
 * Linear weights `linear`, everything else `vector`), and the torchvision importer transposes by that record alone.
 * For every model family the record agrees, name by name, with the layout the variable's rank implies in
 * torchvision's state dicts (rank 4: a convolution kernel; rank 2: a Linear weight; rank 1: a vector); the parity
 * tests check the transposed values against torchvision's.
 */
import { expect } from 'chai';
import { ResNetClassifier } from '../../heads/classification/model';
import { retinanetResnet18Fpn } from '../../heads/detection/model';
import { SegmentationModel } from '../../heads/segmentation/model';
import { resnet18 } from '../../src/backbone/resnet';
import type { Module } from '../../src/nn/module';
import type { TensorLayout } from '../../src/nn/module';
import type { WeightFamily } from '../../src/weights/torchvision';

/** The layout a torchvision state-dict tensor of this rank has relative to ours. */
function layoutOfRank(rank: number): TensorLayout {
  return rank === 4 ? 'conv2d' : rank === 2 ? 'linear' : 'vector';
}

/** Every state entry whose recorded layout differs from the one its rank implies, as `name: recorded vs rank`. */
function disagreements(model: Module): string[] {
  return model
    .stateEntries()
    .filter((e) => e.layout !== layoutOfRank(e.variable.rank))
    .map((e) => `${e.name}: ${e.layout} vs ${layoutOfRank(e.variable.rank)}`);
}

describe('recorded variable layouts', () => {
  // ResNet-18 at output stride 32: the layouts do not depend on dilation, and BasicBlock cannot dilate.
  const trunk = () => resnet18({ outLevels: ['C4', 'C5'] });
  const cases: [WeightFamily, () => Module][] = [
    ['resnet', () => new ResNetClassifier(resnet18(), 7)],
    ['fcn', () => new SegmentationModel(trunk(), { numClasses: 7, head: { type: 'fcn' }, aux: true })],
    ['deeplabv3', () => new SegmentationModel(trunk(), { numClasses: 7, head: { type: 'deeplabv3' }, aux: true })],
    ['retinanet', () => retinanetResnet18Fpn({ numClasses: 7 })],
  ];
  for (const [family, build] of cases) {
    it(`${family}: every state entry's recorded layout equals the one its rank implies (conv2d, linear, vector kinds)`, () => {
      const model = build();
      try {
        expect(disagreements(model)).to.deep.equal([]);
        const kinds = new Set(model.stateEntries().map((e) => e.layout));
        // Each family has kernels and vectors; only the classifier family has a Linear weight (fc.weight).
        expect([...kinds].sort()).to.deep.equal(family === 'resnet' ? ['conv2d', 'linear', 'vector'] : ['conv2d', 'vector']);
      } finally {
        model.dispose();
      }
    });
  }
});
