/**
 * The inference API on a classification checkpoint: `loadClassifier(...).classify(image)` gives what
 * `resvision predict --json` prints for the same files; bytes, paths and a tf.io handler load the same model;
 * tensors, ImageData-like pixels, paths and encoded bytes are the same image; nothing leaks; bad input is one
 * clear error. `loadFeatureExtractor` gives the embeddings `resvision features` writes. The checkpoint comes from
 * a 2-iteration `resvision train` on generated images (3 colour classes; a non-default class count).
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { decodeNpyFloat32 } from '../../src/engine/npy';
import * as core from '../../src/inference';
import { loadClassifier, loadFeatureExtractor } from '../../src/inference/node';
import { saveModelWeights } from '../../src/weights/model_weights';
import { runCli } from '../helpers/cli';
import { expectNoLeak, seededFloats } from '../helpers/tensors';

const COLOURS: Record<string, [number, number, number]> = { blue: [30, 60, 200], green: [40, 190, 50], red: [200, 40, 30] };

/** An ImageFolder of noisy colour squares: 2 train and 1 val image per class, 40x36 (W x H, not square). */
async function makeImageFolder(root: string): Promise<void> {
  let seed = 1;
  for (const split of ['train', 'val']) {
    for (const [cls, rgb] of Object.entries(COLOURS)) {
      const dir = path.join(root, split, cls);
      fs.mkdirSync(dir, { recursive: true });
      for (let i = 0; i < (split === 'train' ? 2 : 1); i++) {
        const noise = seededFloats(40 * 36 * 3, seed++);
        const px = Buffer.alloc(40 * 36 * 3);
        for (let j = 0; j < px.length; j++) px[j] = Math.max(0, Math.min(255, rgb[j % 3] + Math.round(noise[j] * 60)));
        await sharp(px, { raw: { width: 40, height: 36, channels: 3 } }).png().toFile(path.join(dir, `${cls}_${i}.png`));
      }
    }
  }
}

describe('inference API: loadClassifier, loadFeatureExtractor', function () {
  this.timeout(300_000);
  let dir: string;
  let cfgFile: string;
  let ckpt: string;
  let images: string[];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-infer-cls-'));
    await makeImageFolder(path.join(dir, 'data'));
    const cfg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../configs/classification/resnet18_hymenoptera.json'), 'utf8'));
    cfg.data = { root: path.join(dir, 'data'), trainSplit: 'train', valSplit: 'val', trainCropSize: 32, evalResizeSize: 34, evalCropSize: 32 };
    cfg.schedule = { maxIter: 2, main: { kind: 'cosine' } };
    cfg.optimizer.baseLr = 0.05;
    cfg.optimizer.baseBatchSize = 3;
    cfg.train = { seed: 3, batchSize: 3, numWorkers: 1, logEvery: 1, evalEvery: 0, checkpointEvery: 2, outputDir: path.join(dir, 'run') };
    cfgFile = path.join(dir, 'cfg.json');
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    await runCli(['train', cfgFile, '--quiet']);
    ckpt = path.join(dir, 'run', 'model_0000002.safetensors');
    images = Object.keys(COLOURS).map((c) => path.join(dir, 'data', 'val', c, `${c}_0.png`));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('classify(path) equals `resvision predict --json` on the same files (classes, labels, probabilities)', async () => {
    const cli = JSON.parse(await runCli(['predict', cfgFile, ...images, '--checkpoint', ckpt, '--json'])) as { top: core.ClassScore[] }[];
    const classifier = await loadClassifier(ckpt);
    try {
      expect(classifier.classes).to.deep.equal(['blue', 'green', 'red']);
      for (const [i, file] of images.entries()) {
        const top = await classifier.classify(file);
        expect(top.map((t) => [t.className, t.label])).to.deep.equal(cli[i].top.map((t) => [t.className, t.label]));
        // Same decoder, transform and model on the same backend: only float printing separates the two.
        top.forEach((t, k) => expect(t.probability).to.be.closeTo(cli[i].top[k].probability, 1e-6));
        expect(top.reduce((s, t) => s + t.probability, 0)).to.be.closeTo(1, 1e-5);
      }
      expect(await classifier.classify(images[0], { topK: 2 })).to.have.length(2);
    } finally {
      classifier.dispose();
    }
  });

  it('loading from bytes (resvision/core), from a path and from a tf.io handler gives the same classifier', async () => {
    const bytes = new Uint8Array(fs.readFileSync(ckpt));
    const fromPath = await loadClassifier(ckpt);
    const fromBytes = await core.loadClassifier(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    let saved: tf.io.ModelArtifacts | undefined;
    await saveModelWeights(fromPath.model, tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const fromHandler = await core.loadClassifier(tf.io.fromMemory({ ...saved! }), { config: fromPath.config });
    try {
      const pixels = await sharp(images[1]).raw().toBuffer({ resolveWithObject: true });
      const img = tf.tensor3d(new Uint8Array(pixels.data), [pixels.info.height, pixels.info.width, 3], 'int32');
      const [a, b, c] = [await fromPath.classify(img), await fromBytes.classify(img), await fromHandler.classify(img)];
      img.dispose();
      expect(b).to.deep.equal(a);
      expect(c).to.deep.equal(a);
      expect(fromBytes.config).to.deep.equal(fromPath.config);
    } finally {
      for (const m of [fromPath, fromBytes, fromHandler]) m.dispose();
    }
  });

  it('a Tensor3D, an RGBA ImageData-like buffer, a path and encoded bytes are the same image', async () => {
    const classifier = await loadClassifier(ckpt);
    try {
      const file = images[2];
      const rgb = await sharp(file).raw().toBuffer({ resolveWithObject: true });
      const rgba = await sharp(file).ensureAlpha(0.5).raw().toBuffer({ resolveWithObject: true });
      expect(rgba.info.channels).to.equal(4);
      const t = tf.tensor3d(Float32Array.from(rgb.data), [rgb.info.height, rgb.info.width, 3]);
      const results = [
        await classifier.classify(file),
        await classifier.classify(t),
        await classifier.classify({ data: new Uint8ClampedArray(rgba.data), width: rgba.info.width, height: rgba.info.height }),
        await classifier.classify(fs.readFileSync(file)),
      ];
      t.dispose();
      for (const r of results.slice(1)) expect(r).to.deep.equal(results[0]);
    } finally {
      classifier.dispose();
    }
  });

  it('no tensor leaks: load, classify twice, dispose', async () => {
    const img = tf.tensor3d(new Int32Array(30 * 50 * 3).fill(90), [30, 50, 3], 'int32');
    await expectNoLeak(async () => {
      const classifier = await loadClassifier(ckpt);
      await classifier.classify(img);
      await classifier.classify(images[0]);
      classifier.dispose();
    });
    img.dispose();
  });

  it('bad input is one clear error: not a checkpoint, a tensor of rank 4, values outside 0..255, a missing file', async () => {
    const notCkpt = path.join(dir, 'not_a_checkpoint.safetensors');
    fs.writeFileSync(notCkpt, 'hello, not a checkpoint');
    let err: unknown = await loadClassifier(notCkpt).catch((e: Error) => e);
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.match(new RegExp(`^${notCkpt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a resvision checkpoint`));
    err = await core.loadClassifier(new Uint8Array([1, 2, 3])).catch((e: Error) => e);
    expect((err as Error).message).to.match(/^buffer: not a resvision checkpoint \(truncated/);
    err = await loadClassifier(path.join(dir, 'missing.safetensors')).catch((e: Error) => e);
    expect((err as Error).message).to.equal(`checkpoint not found: ${path.join(dir, 'missing.safetensors')}`);

    const classifier = await loadClassifier(ckpt);
    const before = tf.memory().numTensors;
    try {
      const batch = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
      err = await classifier.classify(batch as unknown as tf.Tensor3D).catch((e: Error) => e);
      batch.dispose();
      expect(err).to.be.instanceOf(core.ImageInputError);
      expect((err as Error).message).to.equal('image tensor of shape [1,32,32,3]: expected a Tensor3D [H, W, 3] (HWC RGB, values 0..255)');
      const normalized = tf.fill([8, 8, 3], 0.5) as tf.Tensor3D;
      err = await classifier.classify(normalized).catch((e: Error) => e);
      normalized.dispose();
      expect((err as Error).message).to.match(/pixel 0 channel 0 is 0\.5; expected integers 0\.\.255/);
      err = await classifier.classify({ data: new Uint8Array(10), width: 4, height: 4 }).catch((e: Error) => e);
      expect((err as Error).message).to.equal('pixel buffer 4x4 (WxH) has 10 values; expected 64 (RGBA) or 48 (RGB)');
      err = await classifier.classify(path.join(dir, 'nope.png')).catch((e: Error) => e);
      expect((err as Error).message).to.match(/^cannot decode image '.*nope\.png': cannot read file/);
      expect(tf.memory().numTensors).to.equal(before);
    } finally {
      classifier.dispose();
    }
  });

  it('loadFeatureExtractor: pooled equals `resvision features` for the same weights; C2..C5 at strides 4..32', async () => {
    const exported = path.join(dir, 'exported.safetensors');
    await runCli(['export-weights', ckpt, '--format', 'torchvision', '--out', exported]);
    const outNpy = path.join(dir, 'feats.npy');
    await runCli(['features', '--model', 'resnet18', '--weights', exported, '--images', path.join(dir, 'data', 'val'), '--out', outNpy, '--resize', '34', '--crop', '32', '--quiet']);
    const { data, shape } = decodeNpyFloat32(fs.readFileSync(outNpy));
    const index = JSON.parse(fs.readFileSync(outNpy.replace(/\.npy$/, '.json'), 'utf8')) as { files: string[] };
    expect(shape).to.deep.equal([3, 512]);
    const torchvisionFx = await loadFeatureExtractor('resnet18', { weights: exported, resizeSize: 34, cropSize: 32 });
    const checkpointFx = await loadFeatureExtractor('resnet18', { weights: ckpt, resizeSize: 34, cropSize: 32 });
    try {
      for (const [row, rel] of index.files.entries()) {
        const f = await torchvisionFx.extract(path.join(dir, 'data', 'val', rel));
        const g = await checkpointFx.extract(path.join(dir, 'data', 'val', rel));
        expect([f.C2!.shape, f.C3!.shape, f.C4!.shape, f.C5!.shape, f.pooled.shape]).to.deep.equal([[1, 8, 8, 64], [1, 4, 4, 128], [1, 2, 2, 256], [1, 1, 1, 512], [1, 512]]);
        const pooled = await f.pooled.data();
        // Same preprocessing and weights; the command batches 8 images, the API one: accumulation order may differ.
        const expected = data.subarray(row * 512, (row + 1) * 512);
        pooled.forEach((v, k) => expect(v).to.be.closeTo(expected[k], 1e-5));
        expect(Array.from(await g.pooled.data())).to.deep.equal(Array.from(pooled));
        tf.dispose([...Object.values(f), ...Object.values(g)]);
      }
    } finally {
      torchvisionFx.dispose();
      checkpointFx.dispose();
    }
    const err = await loadFeatureExtractor('resnet7').catch((e: Error) => e);
    expect((err as Error).message).to.match(/^unknown model 'resnet7': expected one of resnet18/);
  });
});
