/**
 * SegmentationModel, FCNHead, DeepLabV3Head, dropout and upsampleLogits: hand-derived values, contracts of the
 * builders (strides, rates, state names), gradients on wasm, errors and leaks. Values against torchvision are in
 * parity.test.ts; small models here use ResNet-18 without dilation (BasicBlock has none), at output stride 32.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { dropout } from '../../../heads/segmentation/dropout';
import { SegmentationModel, deeplabv3Resnet50, fcnResnet50, upsampleLogits } from '../../../heads/segmentation/model';
import { resnet18 } from '../../../src/backbone/resnet';
import { hashStateBytes } from '../../../src/weights/hash_init';
import { writeSafetensors } from '../../../src/weights/safetensors';
import { loadTorchvisionWeights, torchStateSpec } from '../../../src/weights/torchvision';
import { expectNoLeak, seededFloats } from '../../helpers/tensors';

function smallModel(head: 'fcn' | 'deeplabv3', aux: boolean, numClasses = 3): SegmentationModel {
  const backbone = resnet18({ outLevels: aux ? ['C4', 'C5'] : ['C5'] });
  return new SegmentationModel(backbone, {
    numClasses,
    head: head === 'fcn' ? { type: 'fcn' } : { type: 'deeplabv3', atrousRates: [1, 2, 3] },
    aux,
  });
}

describe('upsampleLogits', () => {
  it("[0, 4] width 2 → 4 is [0, 1, 3, 4] (torch bilinear, align_corners=False: src = (i + 0.5)/2 - 0.5, clamped)", async () => {
    // src x = -0.25 → clamp 0 → 0; 0.25 → 0 + 0.25*4 = 1; 0.75 → 3; 1.25 → beyond the last pixel → 4.
    const x = tf.tensor4d([0, 4], [1, 1, 2, 1]);
    const y = upsampleLogits(x, 1, 4);
    expect(Array.from(await y.data())).to.deep.equal([0, 1, 3, 4]);
    tf.dispose([x, y]);
  });
});

describe('dropout', () => {
  it('inference: identity; training with a seed: each value 0 or x/(1-rate), the same mask for the same seed', async () => {
    const x = tf.tensor4d(Array.from(seededFloats(400, 3), (v) => v + 2), [1, 10, 10, 4]); // all > 0
    const same = dropout(x, 0.5, { training: false }, 0);
    const a = dropout(x, 0.5, { training: true, seed: 42 }, 1);
    const b = dropout(x, 0.5, { training: true, seed: 42 }, 1);
    const c = dropout(x, 0.5, { training: true, seed: 42 }, 2);
    const [xv, sv, av, bv, cv] = await Promise.all([x, same, a, b, c].map((t) => t.data()));
    expect(Array.from(sv)).to.deep.equal(Array.from(xv));
    expect(Array.from(av)).to.deep.equal(Array.from(bv));
    expect(Array.from(av)).to.not.deep.equal(Array.from(cv));
    let dropped = 0;
    av.forEach((v, i) => {
      if (v === 0) dropped++;
      else expect(v).to.be.closeTo(xv[i] * 2, 1e-6);
    });
    // Binomial(400, 0.5): mean 200, sd 10.
    expect(dropped).to.be.within(150, 250);
    tf.dispose([x, same, a, b, c]);
  });
});

describe('SegmentationModel', () => {
  it('builders: output stride 8 (C3..C5 stride 8) with rates [12, 24, 36]; 16 gives [6, 12, 18]; torchvision names', () => {
    const m8 = deeplabv3Resnet50({ numClasses: 7, aux: true });
    const m16 = deeplabv3Resnet50({ numClasses: 7, outputStride: 16 });
    const fcn = fcnResnet50({ numClasses: 7 });
    try {
      const s8 = m8.backbone.featureSpecs();
      expect([s8.C3?.stride, s8.C4?.stride, s8.C5?.stride]).to.deep.equal([8, 8, 8]);
      expect(m16.backbone.featureSpecs().C5?.stride).to.equal(16);
      expect(m16.backbone.featureSpecs().C4?.stride).to.equal(16);
      expect((m8.classifier as { atrousRates: readonly number[] }).atrousRates).to.deep.equal([12, 24, 36]);
      expect((m16.classifier as { atrousRates: readonly number[] }).atrousRates).to.deep.equal([6, 12, 18]);
      // torchvision deeplabv3_resnet50(num_classes=7, aux_loss=True) names and torch shapes of the heads.
      const spec = torchStateSpec(m8, { family: 'deeplabv3' });
      const heads = spec.filter((s) => !s.name.startsWith('backbone.') && s.dtype === 'F32');
      const shape = (n: string): number[] | undefined => heads.find((s) => s.name === n)?.shape;
      expect(shape('classifier.0.convs.2.0.weight')).to.deep.equal([256, 2048, 3, 3]);
      expect(shape('classifier.0.convs.4.1.weight')).to.deep.equal([256, 2048, 1, 1]);
      expect(shape('classifier.0.project.0.weight')).to.deep.equal([256, 1280, 1, 1]);
      expect(shape('classifier.1.weight')).to.deep.equal([256, 256, 3, 3]);
      expect(shape('classifier.4.weight')).to.deep.equal([7, 256, 1, 1]);
      expect(shape('aux_classifier.0.weight')).to.deep.equal([256, 1024, 3, 3]);
      expect(shape('aux_classifier.4.bias')).to.deep.equal([7]);
      expect(torchStateSpec(fcn, { family: 'fcn' }).filter((s) => s.name.startsWith('classifier.')).map((s) => [s.name, s.shape])).to.deep.equal([
        ['classifier.0.weight', [512, 2048, 3, 3]],
        ['classifier.1.weight', [512]],
        ['classifier.1.bias', [512]],
        ['classifier.1.running_mean', [512]],
        ['classifier.1.running_var', [512]],
        ['classifier.1.num_batches_tracked', []],
        ['classifier.4.weight', [7, 512, 1, 1]],
        ['classifier.4.bias', [7]],
      ]);
    } finally {
      [m8, m16, fcn].forEach((m) => m.dispose());
    }
  });

  it('forward [2,37,45,3] → logits and auxLogits [2,37,45,5]; classifier bias shifts every logit by itself (upsampling weights sum to 1)', async () => {
    const model = smallModel('deeplabv3', true, 5);
    const x = tf.tensor4d(seededFloats(2 * 37 * 45 * 3, 1), [2, 37, 45, 3]);
    try {
      await expectNoLeak(async () => {
        const a = model.forward(x, { training: false });
        // Adding δ_k to classifier.4.bias adds δ_k to every upsampled logit of class k.
        const bias = model.classifier.cls.bias!;
        const old = bias.clone();
        tf.tidy(() => bias.assign(tf.add(old, tf.tensor1d([1, 2, 3, 4, 5]))));
        const b = model.forward(x, { training: false });
        bias.assign(old);
        old.dispose();
        expect(a.logits.shape).to.deep.equal([2, 37, 45, 5]);
        expect(a.auxLogits!.shape).to.deep.equal([2, 37, 45, 5]);
        const d = tf.sub(b.logits, a.logits);
        const dv = await d.data();
        for (let i = 0; i < dv.length; i++) expect(dv[i]).to.be.closeTo((i % 5) + 1, 1e-4);
        const auxSame = tf.tidy(() => tf.max(tf.abs(tf.sub(b.auxLogits!, a.auxLogits!))));
        expect((await auxSame.data())[0]).to.equal(0);
        tf.dispose([a.logits, a.auxLogits, b.logits, b.auxLogits, d, auxSame]);
      });
    } finally {
      x.dispose();
      model.dispose();
    }
  });

  it('training step on wasm: gradients for every trainable parameter; d loss / d classifier.4.bias = mean over counted pixels of (softmax - onehot)', async () => {
    const model = smallModel('fcn', true, 3);
    const x = tf.tensor4d(seededFloats(2 * 32 * 32 * 3, 5), [2, 32, 32, 3]);
    const maskValues = Array.from(seededFloats(2 * 32 * 32, 6), (v) => (v > 0.6 ? 255 : Math.floor((v + 1) * 1.5) % 3));
    const masks = tf.tensor3d(maskValues, [2, 32, 32], 'int32');
    try {
      await expectNoLeak(async () => {
        const params = model.trainableParameters();
        const ctx = { training: false };
        const { value, grads } = tf.variableGrads(() => {
          const l = model.computeLosses({ images: x, masks }, ctx);
          return tf.add(l.segmentation, l.aux!) as tf.Scalar;
        }, params.map(([, v]) => v));
        expect(Object.keys(grads).length).to.equal(params.length);
        // Hand derivation of the bias gradient from the logits: the bias reaches every pixel with weight 1.
        const { logits, auxLogits } = model.forward(x, ctx);
        const sm = tf.softmax(logits);
        const probs = await sm.data();
        sm.dispose();
        let valid = 0;
        const expected = [0, 0, 0];
        maskValues.forEach((t, p) => {
          if (t === 255) return;
          valid++;
          for (let k = 0; k < 3; k++) expected[k] += probs[p * 3 + k] - (k === t ? 1 : 0);
        });
        const gb = await grads[model.classifier.cls.bias!.name].data();
        for (let k = 0; k < 3; k++) expect(gb[k]).to.be.closeTo(expected[k] / valid, 1e-5);
        expect(Number.isFinite((await value.data())[0])).to.equal(true);
        tf.dispose([value, logits, auxLogits, ...Object.values(grads)]);
      });
      // Training mode: BatchNorm statistics move, dropout is seeded by the step.
      const rm = model.classifier.bn.runningMean;
      const before = await rm.data();
      const l1 = model.computeLosses({ images: x, masks }, { training: true, seed: 9 });
      const after = await rm.data();
      expect(Array.from(after)).to.not.deep.equal(Array.from(before));
      tf.dispose([l1.segmentation, l1.aux]);
    } finally {
      tf.dispose([x, masks]);
      model.dispose();
    }
  });

  it('loads torchvision-named weights: aux_classifier.* ignored by a model without the auxiliary head', async () => {
    const withAux = smallModel('fcn', true);
    const plain = smallModel('fcn', false);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seg-load-'));
    const file = path.join(dir, 'fcn.safetensors');
    try {
      const spec = torchStateSpec(withAux, { family: 'fcn' });
      await writeSafetensors(file, spec.map((s) => ({ name: s.name, dtype: s.dtype, shape: s.shape, data: () => hashStateBytes(s.name, s.shape) })));
      const report = await loadTorchvisionWeights(plain, file, { family: 'fcn' });
      expect(report.missing).to.deep.equal([]);
      expect(report.loaded.length).to.equal(plain.stateEntries().length);
      expect(report.ignored.filter((k) => k.startsWith('aux_classifier.')).sort()).to.deep.equal(
        spec.filter((s) => s.name.startsWith('aux_classifier.')).map((s) => s.name).sort(),
      );
    } finally {
      withAux.dispose();
      plain.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('errors: a backbone without C4 for aux, masks of another size, non-NHWC images, class weights of the wrong length', () => {
    const backbone = resnet18({ outLevels: ['C5'] });
    try {
      expect(() => new SegmentationModel(backbone, { numClasses: 3, head: { type: 'fcn' }, aux: true })).to.throw(
        /needs backbone levels C4, C5; the backbone gives C5/,
      );
      expect(() => new SegmentationModel(backbone, { numClasses: 3, head: { type: 'fcn' }, loss: { classWeights: [1, 2] } })).to.throw(
        /classWeights has 2 entries, expected numClasses = 3/,
      );
    } finally {
      backbone.dispose();
    }
    // Builders check their options before allocating anything.
    const before = tf.memory().numTensors;
    expect(() => fcnResnet50({ atrousRates: [1, 2, 3] })).to.throw(/atrousRates is an option of DeepLabV3/);
    expect(() => deeplabv3Resnet50({ outputStride: 32 as 8 })).to.throw(/outputStride must be 8 or 16, got 32/);
    expect(tf.memory().numTensors).to.equal(before);
    const model = smallModel('fcn', false);
    const x = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
    const m = tf.zeros([1, 32, 31], 'int32') as tf.Tensor3D;
    const chw = tf.zeros([1, 3, 32, 32]) as tf.Tensor4D;
    try {
      expect(() => model.computeLosses({ images: x, masks: m }, { training: false })).to.throw(/masks must be \[N, H, W\] = \[1,32,32\], got \[1,32,31\]/);
      expect(() => model.forward(chw, { training: false })).to.throw(/NHWC images \[N, H, W, 3\], got \[1,3,32,32\]/);
    } finally {
      tf.dispose([x, m, chw]);
      model.dispose();
    }
  });
});
