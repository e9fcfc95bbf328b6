import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ResNetClassifier } from '../../heads/classification/model';
import { resnet18, resnet34 } from '../../src/backbone/resnet';
import { CHECKPOINT_FORMAT, loadCheckpoint, restoreModel, saveCheckpoint } from '../../src/engine/checkpoint';
import { SafetensorsFile, writeSafetensors } from '../../src/weights/safetensors';
import { rejectionMessage } from '../helpers/errors';
import { expectSameState, stateBits } from '../helpers/state';
import { expectNoLeak } from '../helpers/tensors';

describe('checkpoint', () => {
  let dir: string;
  let model: ResNetClassifier;
  let optimizerState: Record<string, tf.Tensor>;
  const meta = {
    architecture: 'resnet18',
    iteration: 1200,
    epoch: 3,
    seed: 42,
    schedule: { kind: 'multistep', milestones: [800, 1100], gamma: 0.1 },
    rng: { state: [123456789, 362436069] },
    config: { backbone: { name: 'resnet18' }, numClasses: 5, lr: 0.1 },
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-'));
    model = new ResNetClassifier(resnet18({ seed: 7 }), 5, 8);
    // Running statistics that differ from their init, so that a missed buffer would show.
    for (const e of model.stateEntries()) if (e.kind === 'buffer') e.variable.assign(tf.tidy(() => tf.randomUniform(e.variable.shape, 0.5, 2, 'float32', 9)));
    optimizerState = {
      'fc.weight.momentum_buffer': tf.randomNormal([512, 5], 0, 1, 'float32', 1),
      'conv1.weight.momentum_buffer': tf.randomNormal([7, 7, 3, 64], 0, 1, 'float32', 2),
      // Non-float slots round-trip too (stored as I32 and BOOL).
      step: tf.tensor([1200], [1], 'int32'),
      'flags.nan_seen': tf.tensor([true, false, true], [3], 'bool'),
    };
    // Special float values and the sign of zero must survive bit for bit.
    optimizerState['specials'] = tf.tensor([NaN, -0, Infinity, -Infinity, 1e-45, 3.4028234663852886e38], [6], 'float32');
  });
  after(() => {
    model.dispose();
    Object.values(optimizerState).forEach((t) => t.dispose());
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('save -> load -> restore reproduces every model tensor, optimizer slot and the meta bit for bit', async () => {
    const file = path.join(dir, 'last.safetensors');
    await saveCheckpoint(file, { model, optimizerState, meta });
    const st = await SafetensorsFile.open(file);
    try {
      expect(st.metadata.format).to.equal(CHECKPOINT_FORMAT);
      expect(st.metadata.architecture).to.equal('resnet18');
      expect(st.info('conv1.weight').shape).to.deep.equal([7, 7, 3, 64]); // our HWIO layout, torchvision name
      expect(st.info('optimizer.step').dtype).to.equal('I32');
      expect(st.info('optimizer.flags.nan_seen').dtype).to.equal('BOOL');
    } finally {
      await st.close();
    }

    const fresh = new ResNetClassifier(resnet18({ seed: 99 }), 5, 100);
    const ckpt = await loadCheckpoint<typeof meta>(file);
    try {
      expect(ckpt.meta).to.deep.equal(meta);
      expect(ckpt.architecture).to.equal('resnet18');
      expect(ckpt.optimizerKeys().sort()).to.deep.equal(Object.keys(optimizerState).sort());
      const report = await restoreModel(fresh, ckpt);
      expect(report.loaded.length).to.equal(model.stateEntries().length);
      expectSameState(stateBits(fresh), stateBits(model));
      const restored = await ckpt.readOptimizerState();
      try {
        for (const [k, t] of Object.entries(optimizerState)) {
          expect(restored[k].dtype, k).to.equal(t.dtype);
          expect(restored[k].shape, k).to.deep.equal(t.shape);
          const a = await restored[k].data();
          const b = await t.data();
          expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), k).to.equal(true);
        }
      } finally {
        Object.values(restored).forEach((t) => t.dispose());
      }
      // Same outputs after restore: the forward is a function of the restored state only.
      const x = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
      const ya = model.forward(x, { training: false });
      const yb = fresh.forward(x, { training: false });
      expect(Buffer.from((await ya.data()).buffer).equals(Buffer.from((await yb.data()).buffer))).to.equal(true);
      tf.dispose([x, ya, yb]);
    } finally {
      await ckpt.close();
      fresh.dispose();
    }
  });

  it('restoring into another architecture names the recorded one and lists the differences; the model is untouched', async () => {
    const file = path.join(dir, 'r18.safetensors');
    await saveCheckpoint(file, { model, meta });
    const other = new ResNetClassifier(resnet34(), 5);
    const ckpt = await loadCheckpoint(file);
    try {
      const before = stateBits(other);
      const msg = await rejectionMessage(restoreModel(other, ckpt));
      expect(msg).to.contain(file).and.to.contain("checkpoint of architecture 'resnet18'").and.to.match(/missing: layer1\.2\.conv1\.weight/);
      expectSameState(stateBits(other), before);
      const seven = new ResNetClassifier(resnet18(), 7);
      try {
        expect(await rejectionMessage(restoreModel(seven, ckpt))).to.contain('fc.weight checkpoint [512,5] vs model [512,7]');
      } finally {
        seven.dispose();
      }
      // Non-strict restores what fits and reports the rest.
      const report = await restoreModel(other, ckpt, { strict: false });
      expect(report.missing.length).to.be.greaterThan(0);
      expect(report.unexpected).to.deep.equal([]);
      expect(report.loaded).to.include('layer4.1.bn2.running_var');
    } finally {
      await ckpt.close();
      other.dispose();
    }
  });

  it('a failed save leaves the previous checkpoint intact and no temporary file', async () => {
    const file = path.join(dir, 'good.safetensors');
    await saveCheckpoint(file, { model, meta });
    const good = fs.readFileSync(file);
    const disposed = tf.zeros([2]);
    disposed.dispose();
    const msg = await rejectionMessage(saveCheckpoint(file, { model, optimizerState: { broken: disposed }, meta: { ...meta, iteration: 1300 } }));
    expect(msg).to.match(/disposed/);
    expect(fs.readFileSync(file).equals(good)).to.equal(true);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('refuses a file that is not a resvision checkpoint', async () => {
    const file = path.join(dir, 'plain.safetensors');
    await writeSafetensors(file, [], { format: 'pt' });
    expect(await rejectionMessage(loadCheckpoint(file))).to.contain('not a resvision checkpoint');
  });

  it('save, load and restore leave no tensors behind', async () => {
    const file = path.join(dir, 'leak.safetensors');
    await expectNoLeak(async () => {
      await saveCheckpoint(file, { model, optimizerState, meta });
      const ckpt = await loadCheckpoint(file);
      try {
        await restoreModel(model, ckpt);
        const s = await ckpt.readOptimizerState();
        Object.values(s).forEach((t) => t.dispose());
      } finally {
        await ckpt.close();
      }
    });
  });
});
