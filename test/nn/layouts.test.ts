/**
 * The layers record each variable's layout relative to torch's when they register it (Conv2d kernels `conv2d`,
 * Linear weights `linear`, everything else `vector`). For every model family this record agrees, name by name, with
 * the layout of torchvision's name table (`src/weights/torchvision.ts`): the importer can transpose by what the
 * layers say.
 */
import { expect } from 'chai';
import { ResNetClassifier } from '../../heads/classification/model';
import { retinanetResnet18Fpn } from '../../heads/detection/model';
import { SegmentationModel } from '../../heads/segmentation/model';
import { resnet18 } from '../../src/backbone/resnet';
import type { Module } from '../../src/nn/module';
import { layoutOf, NAME_TABLES, type WeightFamily } from '../../src/weights/torchvision';

/** Every state entry whose recorded layout differs from the family table's, as `name: recorded vs table`. */
function disagreements(model: Module, family: WeightFamily): string[] {
  return model
    .stateEntries()
    .filter((e) => e.layout !== layoutOf(NAME_TABLES[family], e.name))
    .map((e) => `${e.name}: ${e.layout} vs ${layoutOf(NAME_TABLES[family], e.name)}`);
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
    it(`${family}: every state entry's recorded layout equals the ${family} name table's (conv2d, linear, vector counts)`, () => {
      const model = build();
      try {
        expect(disagreements(model, family)).to.deep.equal([]);
        const kinds = new Set(model.stateEntries().map((e) => e.layout));
        // Each family has kernels and vectors; only the classifier family has a Linear weight (fc.weight).
        expect([...kinds].sort()).to.deep.equal(family === 'resnet' ? ['conv2d', 'linear', 'vector'] : ['conv2d', 'vector']);
      } finally {
        model.dispose();
      }
    });
  }
});
