import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { FeaturePyramidNetwork, FpnTopBlock } from '../../../heads/necks/fpn';
import { resnet18, resnet50 } from '../../../src/backbone/resnet';
import { expectNoLeak } from '../../helpers/tensors';

describe('FeaturePyramidNetwork', () => {
  const backbone = resnet18({ outLevels: ['C3', 'C4', 'C5'] });
  after(() => backbone.dispose());

  const cases: { name: string; top: FpnTopBlock; levels: string[] }[] = [
    { name: 'p6p7 from P5', top: { kind: 'p6p7', source: 'P5' }, levels: ['P3', 'P4', 'P5', 'P6', 'P7'] },
    { name: 'p6p7 from C5', top: { kind: 'p6p7', source: 'C5' }, levels: ['P3', 'P4', 'P5', 'P6', 'P7'] },
    { name: 'maxpool', top: { kind: 'maxpool' }, levels: ['P3', 'P4', 'P5', 'P6'] },
    { name: 'none', top: { kind: 'none' }, levels: ['P3', 'P4', 'P5'] },
  ];
  for (const c of cases) {
    it(`${c.name}: declared specs match real outputs [N, ceil(H/s), ceil(W/s), 64] on 64x96 and 70x50`, async () => {
      const fpn = new FeaturePyramidNetwork({ inLevels: ['C3', 'C4', 'C5'], inSpecs: backbone.featureSpecs(), outChannels: 64, topBlock: c.top });
      expect(fpn.outLevels).to.deep.equal(c.levels);
      const specs = fpn.featureSpecs();
      for (const [h, w] of [
        [64, 96],
        [70, 50],
      ]) {
        const x = tf.zeros([1, h, w, 3]) as tf.Tensor4D;
        await expectNoLeak(() => {
          const feats = backbone.forward(x, { training: false });
          const out = fpn.forward(feats);
          for (const l of fpn.outLevels) {
            const s = specs[l]!;
            expect(out[l].shape, l).to.deep.equal([1, Math.ceil(h / s.stride), Math.ceil(w / s.stride), s.channels]);
          }
          tf.dispose([...Object.values(feats), ...Object.values(out)]);
        });
        x.dispose();
      }
      expect(specs.P3).to.deep.equal({ channels: 64, stride: 8 });
      if (specs.P7) expect(specs.P7).to.deep.equal({ channels: 64, stride: 128 });
      fpn.dispose();
    });
  }

  it("torchvision state names: inner_blocks.{i}.0, layer_blocks.{i}.0, extra_blocks.p6/p7; channels from the specs", () => {
    const fpn = new FeaturePyramidNetwork({ inLevels: ['C3', 'C4', 'C5'], inSpecs: backbone.featureSpecs(), outChannels: 32, topBlock: { kind: 'p6p7', source: 'C5' } });
    const names = fpn.stateEntries().map((e) => `${e.name} [${e.variable.shape}]`);
    expect(names).to.deep.equal([
      'inner_blocks.0.0.weight [1,1,128,32]', 'inner_blocks.0.0.bias [32]',
      'inner_blocks.1.0.weight [1,1,256,32]', 'inner_blocks.1.0.bias [32]',
      'inner_blocks.2.0.weight [1,1,512,32]', 'inner_blocks.2.0.bias [32]',
      'layer_blocks.0.0.weight [3,3,32,32]', 'layer_blocks.0.0.bias [32]',
      'layer_blocks.1.0.weight [3,3,32,32]', 'layer_blocks.1.0.bias [32]',
      'layer_blocks.2.0.weight [3,3,32,32]', 'layer_blocks.2.0.bias [32]',
      'extra_blocks.p6.weight [3,3,512,32]', 'extra_blocks.p6.bias [32]',
      'extra_blocks.p7.weight [3,3,32,32]', 'extra_blocks.p7.bias [32]',
    ]);
    fpn.dispose();
  });

  it('top-down path reaches odd lateral sizes (C5 2x2 -> C4 3x4 -> C3 5x7): a constant C5 lateral arrives at P3 unchanged', async () => {
    // With every conv weight 0 except inner_blocks.2 bias = 1 and layer_blocks.0 an identity at the centre tap,
    // P3 = upsample(upsample(1)) = 1 everywhere, also when sizes are odd (C5 2x2 -> C4 3x4 -> C3 5x7 for 35x50).
    const fpn = new FeaturePyramidNetwork({ inLevels: ['C3', 'C4', 'C5'], inSpecs: backbone.featureSpecs(), outChannels: 4, topBlock: { kind: 'none' } });
    for (const e of fpn.stateEntries()) e.variable.assign(tf.zerosLike(e.variable));
    fpn.innerBlocks.items[2].conv.bias!.assign(tf.ones([4]));
    const eye = tf.tidy(() => tf.pad(tf.reshape(tf.eye(4), [1, 1, 4, 4]), [[1, 1], [1, 1], [0, 0], [0, 0]]));
    fpn.layerBlocks.items[0].conv.weight.assign(eye);
    eye.dispose();
    const x = tf.zeros([1, 35, 50, 3]) as tf.Tensor4D;
    const feats = backbone.forward(x, { training: false });
    const out = fpn.forward(feats);
    expect(out.P3.shape).to.deep.equal([1, 5, 7, 4]);
    const v = await out.P3.data();
    // Zero padding of the 3x3 conv leaves the value 1 at every pixel (centre tap only).
    expect(Array.from(v).every((e) => e === 1)).to.equal(true);
    tf.dispose([x, ...Object.values(feats), ...Object.values(out)]);
    fpn.dispose();
  });

  it('rejects a dilated backbone, a missing level and non-consecutive levels', () => {
    const dilated = resnet50({ replaceStrideWithDilation: [false, false, true] });
    expect(() => new FeaturePyramidNetwork({ inLevels: ['C3', 'C4', 'C5'], inSpecs: dilated.featureSpecs(), outChannels: 8, topBlock: { kind: 'none' } })).to.throw(
      /strides must double.*C4 has stride 16 and C5 stride 16/,
    );
    dilated.dispose();
    const short = resnet18({ outLevels: ['C2', 'C3'] });
    expect(() => new FeaturePyramidNetwork({ inLevels: ['C3', 'C4'], inSpecs: short.featureSpecs(), outChannels: 8, topBlock: { kind: 'none' } })).to.throw(
      /does not give level C4; it gives C2, C3/,
    );
    short.dispose();
    expect(() => new FeaturePyramidNetwork({ inLevels: ['C3', 'C5'], inSpecs: backbone.featureSpecs(), outChannels: 8, topBlock: { kind: 'none' } })).to.throw(
      /ascending and consecutive/,
    );
  });
});
