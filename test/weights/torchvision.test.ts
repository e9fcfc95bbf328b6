import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ResNetClassifier } from '../../heads/classification/model';
import { buildBackbone, resnet18 } from '../../src/backbone/resnet';
import { Module } from '../../src/nn/module';
import { decodeFloat32, decodeInt32 } from '../../src/weights/dtypes';
import { hashStateBytes, hashTensorValues } from '../../src/weights/hash_init';
import { SafetensorsEntry, SafetensorsFile, writeSafetensors } from '../../src/weights/safetensors';
import {
  exportTorchvisionWeights,
  resnetDepthOf,
  loadTorchvisionWeights,
  torchShape,
  torchStateSpec,
} from '../../src/weights/torchvision';
import { rejectionMessage as errorOf } from '../helpers/errors';
import { expectSameState, stateBits as snapshot } from '../helpers/state';
import { expectNoLeak } from '../helpers/tensors';

const GOLDEN = path.resolve(__dirname, '..', 'golden');

/** Hash-valued torch-layout entries for a model's state (what torchvision would save), plus num_batches_tracked. */
function torchEntries(m: Module, transform: (name: string) => string | undefined = (n) => n): SafetensorsEntry[] {
  const out: SafetensorsEntry[] = [];
  for (const s of torchStateSpec(m)) {
    const name = transform(s.name);
    if (name !== undefined) out.push({ name, dtype: s.dtype, shape: s.shape, data: hashStateBytes(s.name, s.shape) });
  }
  return out;
}

describe('torchvision weights', () => {
  it('resnetDepthOf names the ResNet whose stage depths and block type the keys show (prefixes allowed)', () => {
    const names = (name: string, prefix = '') => {
      const m = buildBackbone(name);
      try {
        return m.stateEntries().map((e) => `${prefix}${e.name}`);
      } finally {
        m.dispose();
      }
    };
    expect(resnetDepthOf(names('resnet18'))).to.equal('resnet18 (blocks 2, 2, 2, 2, basic)');
    expect(resnetDepthOf(names('resnet34'))).to.equal('resnet34 (blocks 3, 4, 6, 3, basic)');
    expect(resnetDepthOf(names('resnet101', 'backbone.body.'))).to.equal('resnet101 (blocks 3, 4, 23, 3, bottleneck)');
    expect(resnetDepthOf(names('wide_resnet50_2'))).to.equal('resnet50 (blocks 3, 4, 6, 3, bottleneck)');
    expect(resnetDepthOf(['fc.weight', 'conv1.weight'])).to.equal(undefined);
  });

  let dir: string;
  let small: ResNetClassifier;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-'));
    small = new ResNetClassifier(resnet18(), 5);
  });
  after(() => {
    small.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('RESNET_NAME_TABLE', () => {
    it('every state entry of every ResNet variant records the layout its rank implies', () => {
      for (const name of ['resnet18', 'resnext50_32x4d']) {
        const m = new ResNetClassifier(buildBackbone(name), 3);
        try {
          for (const e of m.stateEntries()) {
            const layout = e.layout;
            expect(layout, e.name).to.equal(e.variable.rank === 4 ? 'conv2d' : e.variable.rank === 2 ? 'linear' : 'vector');
          }
        } finally {
          m.dispose();
        }
      }
    });

    it('torchShape: HWIO [7,7,3,64] -> OIHW [64,3,7,7]; [512,5] -> [5,512]', () => {
      expect(torchShape([7, 7, 3, 64], 'conv2d')).to.deep.equal([64, 3, 7, 7]);
      expect(torchShape([512, 5], 'linear')).to.deep.equal([5, 512]);
      expect(torchShape([64], 'vector')).to.deep.equal([64]);
    });
  });

  describe('loadTorchvisionWeights', () => {
    it('transposes OIHW -> HWIO and [out,in] -> [in,out] element by element (conv1, fc)', async () => {
      const file = path.join(dir, 'full.safetensors');
      await writeSafetensors(file, torchEntries(small));
      await loadTorchvisionWeights(small, file);
      // torch conv1.weight[o, i, y, x] sits at flat ((o*3 + i)*7 + y)*7 + x; ours at ((y*7 + x)*3 + i)*64 + o.
      const w = hashTensorValues('conv1.weight', [64, 3, 7, 7]);
      const ours = small.backbone.conv1.weight.dataSync();
      for (const [o, i, y, x] of [[0, 0, 0, 0], [63, 2, 6, 6], [5, 1, 3, 2], [17, 0, 6, 1]]) {
        expect(ours[((y * 7 + x) * 3 + i) * 64 + o]).to.equal(w[((o * 3 + i) * 7 + y) * 7 + x]);
      }
      const fc = hashTensorValues('fc.weight', [5, 512]);
      const oursFc = small.head.fc.weight.dataSync();
      for (const [k, c] of [[0, 0], [4, 511], [2, 100]]) expect(oursFc[c * 5 + k]).to.equal(fc[k * 512 + c]);
      const rv = hashTensorValues('layer3.1.bn2.running_var', [256]);
      expect([...(small.getSubmodule('layer3.1.bn2').stateEntries()[3].variable.dataSync())]).to.deep.equal([...rv]);
    });

    it('strict: a shape mismatch (5-class file into a 7-class model) throws, lists it and changes nothing', async () => {
      const file = path.join(dir, 'five.safetensors');
      await writeSafetensors(file, torchEntries(small));
      const seven = new ResNetClassifier(resnet18({ seed: 3 }), 7);
      try {
        const before = snapshot(seven);
        const msg = await errorOf(loadTorchvisionWeights(seven, file));
        expect(msg).to.contain(file).and.to.contain('fc.weight file [5,512] vs model [7,512]').and.to.contain('fc.bias file [5] vs model [7]');
        expectSameState(snapshot(seven), before);
        // Non-strict loads the rest and reports the head.
        const report = await loadTorchvisionWeights(seven, file, { strict: false });
        expect(report.shapeMismatched.map((m) => m.name)).to.deep.equal(['fc.weight', 'fc.bias']);
        expect(report.loaded.length).to.equal(seven.stateEntries().length - 2);
        expect(seven.head.fc.bias!.dataSync()).to.deep.equal(new Float32Array(before.get('fc.bias')!.buffer));
      } finally {
        seven.dispose();
      }
    });

    it('strict: missing and unexpected keys are listed; non-strict reports them', async () => {
      const file = path.join(dir, 'partial.safetensors');
      await writeSafetensors(file, [
        ...torchEntries(small, (n) => (n.startsWith('layer4.1.') ? undefined : n)),
        { name: 'layer5.0.conv1.weight', dtype: 'F32', shape: [1], data: new Uint8Array(4) },
      ]);
      const msg = await errorOf(loadTorchvisionWeights(small, file));
      expect(msg).to.match(/missing: layer4\.1\.conv1\.weight, layer4\.1\.bn1\.weight/).and.to.match(/unexpected: layer5\.0\.conv1\.weight/);
      const report = await loadTorchvisionWeights(small, file, { strict: false });
      expect(report.missing.every((n) => n.startsWith('layer4.1.'))).to.equal(true);
      expect(report.missing.length).to.equal(10);
      expect(report.unexpected).to.deep.equal(['layer5.0.conv1.weight']);
    });

    it("refuses a timm deep-stem checkpoint ('conv1.0.weight') with the reason", async () => {
      const file = path.join(dir, 'deep.safetensors');
      await writeSafetensors(file, [
        ...torchEntries(small, (n) => (n === 'conv1.weight' ? undefined : n)),
        { name: 'conv1.0.weight', dtype: 'F32', shape: [32, 3, 3, 3], data: new Uint8Array(32 * 27 * 4) },
      ]);
      const msg = await errorOf(loadTorchvisionWeights(small, file));
      expect(msg).to.contain('missing: conv1.weight').and.to.contain('unexpected: conv1.0.weight').and.to.contain('deep stem');
    });

    it('refuses a resvision training checkpoint and an integer weight', async () => {
      const ck = path.join(dir, 'ck.safetensors');
      await writeSafetensors(ck, [], { format: 'resvision-checkpoint' });
      expect(await errorOf(loadTorchvisionWeights(small, ck))).to.contain('use loadCheckpoint + restoreModel');
      const ints = path.join(dir, 'ints.safetensors');
      await writeSafetensors(ints, torchEntries(small, (n) => n).map((e) => (e.name === 'bn1.bias' ? { ...e, dtype: 'I32' as const } : e)));
      expect(await errorOf(loadTorchvisionWeights(small, ints))).to.contain("'bn1.bias' is I32");
    });

    it('a torch.save archive (tiny_resnet18_stem.pth from torchvision resnet18(num_classes=3)) loads through the same path', async () => {
      const m = new ResNetClassifier(resnet18(), 3);
      try {
        const report = await loadTorchvisionWeights(m, path.join(GOLDEN, 'tiny_resnet18_stem.pth'), { strict: false });
        expect(report.format).to.equal('pth');
        expect(report.loaded).to.deep.equal([
          'conv1.weight', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'fc.weight', 'fc.bias',
        ]);
        expect(report.ignored).to.deep.equal(['bn1.num_batches_tracked']);
        expect(report.unexpected).to.deep.equal([]);
        const expected = tf.tidy(() => tf.transpose(tf.tensor(hashTensorValues('conv1.weight', [64, 3, 7, 7]), [64, 3, 7, 7]), [2, 3, 1, 0]));
        try {
          expect(m.backbone.conv1.weight.dataSync()).to.deep.equal(expected.dataSync());
        } finally {
          expected.dispose();
        }
        expect([...m.head.fc.bias!.dataSync()]).to.deep.equal([...hashTensorValues('fc.bias', [3])]);
      } finally {
        m.dispose();
      }
    });

    it('leaves no tensors behind', async () => {
      const file = path.join(dir, 'leak.safetensors');
      await writeSafetensors(file, torchEntries(small));
      await expectNoLeak(() => loadTorchvisionWeights(small, file));
    });
  });

  describe('exportTorchvisionWeights', () => {
    it('writes torch names, OIHW kernels, [out,in] fc and int64 zero num_batches_tracked; loads back bit for bit', async () => {
      const file = path.join(dir, 'export.safetensors');
      await expectNoLeak(() => exportTorchvisionWeights(small, file));
      const st = await SafetensorsFile.open(file);
      try {
        expect(st.metadata).to.deep.equal({ format: 'pt' });
        const spec = torchStateSpec(small);
        expect([...st.keys()].sort()).to.deep.equal(spec.map((s) => s.name).sort());
        expect(spec.filter((s) => s.dtype === 'I64').length).to.equal(20); // resnet18: bn1 + 16 block BNs + 3 downsample BNs
        const nbt = await st.read('layer2.0.downsample.1.num_batches_tracked');
        expect(nbt.dtype).to.equal('I64');
        expect(nbt.shape).to.deep.equal([]);
        expect([...decodeInt32(nbt)]).to.deep.equal([0]);
        const conv = await st.read('layer1.0.conv2.weight');
        expect(conv.shape).to.deep.equal([64, 64, 3, 3]);
        // OIHW[o=1, i=2, y=0, x=1] equals HWIO[0, 1, 2, 1] of the model.
        const hwio = small.getSubmodule('layer1.0.conv2').stateEntries()[0].variable.dataSync();
        expect(decodeFloat32(conv)[((1 * 64 + 2) * 3 + 0) * 3 + 1]).to.equal(hwio[((0 * 3 + 1) * 64 + 2) * 64 + 1]);
      } finally {
        await st.close();
      }
      const copy = new ResNetClassifier(resnet18({ seed: 11 }), 5);
      try {
        await loadTorchvisionWeights(copy, file);
        expectSameState(snapshot(copy), snapshot(small));
      } finally {
        copy.dispose();
      }
    });
  });
});
