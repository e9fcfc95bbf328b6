import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { BACKBONE_NAMES, buildBackbone, resnet18, resnet50 } from '../../src/backbone/resnet';
import { specOf } from '../../src/backbone/features';
import { ResNetClassifier } from '../../heads/classification/model';
import { expectNoLeak, seededFloats } from '../helpers/tensors';

describe('ResNet backbone', () => {
  // sum(p.numel() for p in torchvision.models.<name>().parameters()) with the 1000-class fc
  // (torchvision 0.x model cards list the same figures).
  const TORCHVISION_PARAMS: Record<string, number> = {
    resnet18: 11_689_512,
    resnet34: 21_797_672,
    resnet50: 25_557_032,
    resnet101: 44_549_160,
    resnet152: 60_192_808,
    wide_resnet50_2: 68_883_240,
    wide_resnet101_2: 126_886_696,
    resnext50_32x4d: 25_028_904,
    resnext101_32x8d: 88_791_336,
  };

  it('covers all nine torchvision ResNets', () => {
    expect([...BACKBONE_NAMES].sort()).to.deep.equal(Object.keys(TORCHVISION_PARAMS).sort());
  });

  for (const [name, expected] of Object.entries(TORCHVISION_PARAMS)) {
    it(`${name}: ${expected.toLocaleString('en')} parameters with a 1000-class fc, as torchvision`, () => {
      const model = new ResNetClassifier(buildBackbone(name), 1000);
      try {
        expect(model.numParameters()).to.equal(expected);
      } finally {
        model.dispose();
      }
    });
  }

  it('state names follow torchvision (resnet50: first, downsample, last, fc)', () => {
    const model = new ResNetClassifier(resnet50(), 1000);
    try {
      const entries = model.stateEntries();
      const names = entries.map((e) => e.name);
      expect(names.slice(0, 6)).to.deep.equal([
        'conv1.weight',
        'bn1.weight',
        'bn1.bias',
        'bn1.running_mean',
        'bn1.running_var',
        'layer1.0.conv1.weight',
      ]);
      expect(names).to.include('layer1.0.downsample.0.weight');
      expect(names).to.include('layer1.0.downsample.1.running_var');
      expect(names).to.include('layer4.2.bn3.bias');
      expect(names.slice(-2)).to.deep.equal(['fc.weight', 'fc.bias']);
      // torchvision's resnet50 state_dict has 320 entries of which 53 are num_batches_tracked, which we do not keep.
      expect(entries.length).to.equal(320 - 53);
      const shape = (n: string) => entries.find((e) => e.name === n)!.variable.shape;
      expect(shape('conv1.weight')).to.deep.equal([7, 7, 3, 64]); // HWIO of torch's [64, 3, 7, 7]
      expect(shape('layer2.0.conv2.weight')).to.deep.equal([3, 3, 128, 128]);
      expect(shape('fc.weight')).to.deep.equal([2048, 1000]); // [in, out] of torch's [1000, 2048]
    } finally {
      model.dispose();
    }
  });

  it('unknown model name lists the known ones', () => {
    expect(() => buildBackbone('resnet51')).to.throw(/unknown model 'resnet51': expected one of resnet18, resnet34/);
  });

  it('rejects a level it cannot give', () => {
    expect(() => resnet18({ outLevels: ['C6' as 'C5'] })).to.throw(/unknown level 'C6'.*C2, C3, C4, C5/);
  });

  describe('feature specs match real outputs (contract)', () => {
    const cases: [string, number[], [boolean, boolean, boolean] | undefined, number[]][] = [
      // name, [N,H,W], dilation, expected strides C2..C5
      ['resnet18', [2, 64, 48], undefined, [4, 8, 16, 32]],
      ['resnet34', [1, 33, 47], undefined, [4, 8, 16, 32]],
      ['resnet50', [1, 64, 64], undefined, [4, 8, 16, 32]],
      ['resnet50', [1, 64, 64], [false, true, true], [4, 8, 8, 8]],
      ['resnet50', [1, 65, 63], [false, false, true], [4, 8, 16, 16]],
      ['resnext50_32x4d', [1, 32, 32], undefined, [4, 8, 16, 32]],
    ];
    for (const [name, [n, h, w], rswd, strides] of cases) {
      it(`${name} x=[${n},${h},${w},3]${rswd ? ` dilation ${JSON.stringify(rswd)}` : ''} → strides ${strides}`, () => {
        const bb = buildBackbone(name, { replaceStrideWithDilation: rswd });
        try {
          const specs = bb.featureSpecs();
          expect(['C2', 'C3', 'C4', 'C5'].map((l) => specs[l as 'C2']?.stride)).to.deep.equal(strides);
          const x = tf.tensor4d(seededFloats(n * h * w * 3, 7), [n, h, w, 3]);
          const feats = bb.forward(x, { training: false });
          for (const level of bb.outLevels) {
            const s = specOf(specs, level, 'test');
            // torchvision's convolutions give ceil(H / stride) for these paddings.
            expect(feats[level].shape, level).to.deep.equal([n, Math.ceil(h / s.stride), Math.ceil(w / s.stride), s.channels]);
          }
          tf.dispose([x, feats]);
        } finally {
          bb.dispose();
        }
      });
    }
  });

  it('outLevels [C2, C3] builds only layer1 and layer2', () => {
    const bb = resnet18({ outLevels: ['C3', 'C2'] });
    try {
      expect(bb.outLevels).to.deep.equal(['C2', 'C3']);
      expect(bb.stateEntries().some((e) => e.name.startsWith('layer3'))).to.equal(false);
    } finally {
      bb.dispose();
    }
  });

  it('frozenStages=2 freezes conv1, bn1, layer1, layer2 and their BN statistics', () => {
    const bb = resnet18({ frozenStages: 2 });
    try {
      const trainable = bb.trainableParameters().map(([n]) => n);
      expect(trainable.some((n) => /^(conv1|bn1|layer1|layer2)\./.test(n))).to.equal(false);
      expect(trainable).to.include('layer3.0.conv1.weight');
      const rm = bb.stateEntries().find((e) => e.name === 'layer1.0.bn1.running_mean')!.variable;
      const before = rm.dataSync().slice();
      const x = tf.tensor4d(seededFloats(2 * 32 * 32 * 3, 3), [2, 32, 32, 3]);
      tf.dispose(bb.forward(x, { training: true }));
      x.dispose();
      expect(Array.from(rm.dataSync())).to.deep.equal(Array.from(before));
      const rm3 = bb.stateEntries().find((e) => e.name === 'layer3.0.bn1.running_mean')!.variable;
      expect(Array.from(rm3.dataSync()).some((v) => v !== 0)).to.equal(true);
    } finally {
      bb.dispose();
    }
  });

  it("normLayer 'frozen' has no trainable BN parameters and never changes them", () => {
    const bb = resnet18({ normLayer: 'frozen' });
    try {
      const trainable = bb.trainableParameters().map(([n]) => n);
      expect(trainable.every((n) => n.endsWith('conv1.weight') || n.endsWith('conv2.weight') || n.endsWith('downsample.0.weight'))).to.equal(true);
      // torchvision resnet18: 11,689,512 minus fc (513,000) minus BN affine (9,600) = conv weights only.
      expect(bb.trainableParameters().reduce((s, [, v]) => s + v.size, 0)).to.equal(11_689_512 - 513_000 - 9_600);
    } finally {
      bb.dispose();
    }
  });

  it('zeroInitResidual zeroes the last BN weight of every block', () => {
    const bb = resnet50({ zeroInitResidual: true });
    try {
      const bn3 = bb.stateEntries().filter((e) => /\.bn3\.weight$/.test(e.name));
      expect(bn3.length).to.equal(16);
      for (const e of bn3) expect(tf.sum(e.variable).dataSync()[0]).to.equal(0);
    } finally {
      bb.dispose();
    }
  });

  it('forward and embed do not leak tensors', async () => {
    const bb = resnet18();
    const x = tf.tensor4d(seededFloats(32 * 32 * 3, 5), [1, 32, 32, 3]);
    try {
      await expectNoLeak(() => tf.dispose(bb.forward(x, { training: true })));
      await expectNoLeak(() => bb.embed(x).dispose());
    } finally {
      x.dispose();
      bb.dispose();
    }
  });
});
