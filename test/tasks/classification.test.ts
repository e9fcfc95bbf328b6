/**
 * The classification path end to end through the CLI, as a user runs it: train on an ImageFolder, evaluate a
 * checkpoint, resume, predict, export to torchvision names, and extract features. Images are generated (two
 * colour classes), so the test needs no download.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { runCli } from '../helpers/cli';
import { decodeNpyFloat32 } from '../../src/engine/npy';
import { loadCheckpoint } from '../../src/engine/checkpoint';
import { readJsonl } from '../../src/engine/logger';
import { loadConfig } from '../../src/config/load';
import type { ClassificationConfig } from '../../src/config/types';
import { buildClassifier, loadClassifierCheckpoint } from '../../src/tasks/classification';
import { loadTorchvisionWeights } from '../../src/weights/torchvision';
import { classificationEvalTransform } from '../../datasets/pipeline';
import { seededFloats } from '../helpers/tensors';


async function makeImageFolder(root: string): Promise<void> {
  // Two classes told apart by colour; per-pixel noise makes every image different.
  const colours: Record<string, [number, number, number]> = { blue: [30, 60, 200], red: [200, 40, 30] };
  let seed = 1;
  for (const split of ['train', 'val']) {
    for (const [cls, rgb] of Object.entries(colours)) {
      const dir = path.join(root, split, cls);
      fs.mkdirSync(dir, { recursive: true });
      for (let i = 0; i < (split === 'train' ? 6 : 3); i++) {
        const noise = seededFloats(40 * 40 * 3, seed++);
        const px = Buffer.alloc(40 * 40 * 3);
        for (let j = 0; j < px.length; j++) px[j] = Math.max(0, Math.min(255, rgb[j % 3] + Math.round(noise[j] * 40)));
        await sharp(px, { raw: { width: 40, height: 40, channels: 3 } }).png().toFile(path.join(dir, `${cls}_${i}.png`));
      }
    }
  }
  fs.writeFileSync(path.join(root, 'train', 'red', 'notes.txt'), 'not an image');
}

async function tensorsOf(file: string): Promise<Map<string, Float32Array | Int32Array | Uint8Array>> {
  const ck = await loadCheckpoint(file);
  try {
    const out = new Map<string, Float32Array | Int32Array | Uint8Array>();
    for (const k of ck.modelKeys()) {
      const t = await ck.readTensor(k);
      out.set(k, (await t.data()) as Float32Array);
      t.dispose();
    }
    return out;
  } finally {
    await ck.close();
  }
}

describe('classification task (CLI)', function () {
  this.timeout(300_000);
  let dir: string;
  let cfgFile: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-cls-'));
    await makeImageFolder(path.join(dir, 'data'));
    const cfg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../configs/classification/resnet18_hymenoptera.json'), 'utf8'));
    cfg.data = { root: path.join(dir, 'data'), trainSplit: 'train', valSplit: 'val', trainCropSize: 32, evalResizeSize: 36, evalCropSize: 32 };
    cfg.schedule = { maxIter: 6, warmup: { iters: 2, factor: 0.1 }, main: { kind: 'cosine' } };
    cfg.optimizer.baseLr = 0.05;
    cfg.optimizer.baseBatchSize = 4;
    cfg.train = { seed: 3, batchSize: 4, numWorkers: 2, logEvery: 1, evalEvery: 3, checkpointEvery: 3, outputDir: path.join(dir, 'run') };
    cfgFile = path.join(dir, 'cfg.json');
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('train writes checkpoints, a JSONL log, and the evaluation table', async () => {
    const before = tf.memory().numTensors;
    const out = await runCli(['train', cfgFile, '--quiet']);
    expect(tf.memory().numTensors).to.equal(before);
    expect(out).to.match(/images: 6 {3}top-1: [\d.]+% {3}top-5: 100\.00%/);
    expect(out).to.match(/done: 6 iterations/);
    const run = path.join(dir, 'run');
    expect(fs.readdirSync(run).filter((f) => f.endsWith('.safetensors')).sort()).to.deep.equal([
      'model_0000003.safetensors',
      'model_0000006.safetensors',
    ]);
    const records = readJsonl(path.join(run, 'metrics.jsonl'));
    const train = records.filter((r) => r.type === 'train');
    expect(train.map((r) => r.iteration)).to.deep.equal([0, 1, 2, 3, 4, 5]);
    for (const r of train) expect(Number.isFinite(r.totalLoss as number)).to.equal(true);
    // Warmup then cosine from lr = 0.05 * 4 / 4: iteration 0 is at the warmup factor 0.1.
    expect(train[0].lr).to.be.closeTo(0.05 * 0.1, 1e-12);
    expect(records.filter((r) => r.type === 'eval').length).to.equal(2);
  });

  it('eval of the final checkpoint reproduces the evaluation logged during training', async () => {
    const out = await runCli(['eval', cfgFile, '--checkpoint', path.join(dir, 'run', 'model_0000006.safetensors'), '--quiet']);
    const logged = readJsonl(path.join(dir, 'run', 'metrics.jsonl')).filter((r) => r.type === 'eval').pop()!;
    const top1 = (logged.metrics as { top1Percent: number }).top1Percent;
    expect(out).to.contain(`top-1: ${top1.toFixed(2)}%`);
    expect(out).to.match(/confusion matrix \(rows: ground truth, columns: prediction\)/);
  });

  it('--resume from iteration 3 ends with the same weights, bit for bit, as the uninterrupted run', async () => {
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    cfg.train.outputDir = path.join(dir, 'resumed');
    const cfg2 = path.join(dir, 'cfg_resumed.json');
    fs.writeFileSync(cfg2, JSON.stringify(cfg));
    await runCli(['train', cfg2, '--quiet', '--resume', path.join(dir, 'run', 'model_0000003.safetensors')]);
    const a = await tensorsOf(path.join(dir, 'run', 'model_0000006.safetensors'));
    const b = await tensorsOf(path.join(dir, 'resumed', 'model_0000006.safetensors'));
    expect([...b.keys()]).to.deep.equal([...a.keys()]);
    for (const [k, v] of a) expect(Buffer.from(b.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).to.equal(true);
  });

  it('predict prints the top classes with probabilities that sum to 1', async () => {
    const img = path.join(dir, 'data', 'val', 'red', 'red_0.png');
    const out = JSON.parse(await runCli(['predict', cfgFile, img, '--checkpoint', path.join(dir, 'run', 'model_0000006.safetensors'), '--json']));
    expect(out).to.have.length(1);
    expect(out[0].file).to.equal(img);
    expect(out[0].top.map((t: { className: string }) => t.className).sort()).to.deep.equal(['blue', 'red']);
    expect(out[0].top[0].probability).to.be.at.least(out[0].top[1].probability);
    expect(out[0].top[0].probability + out[0].top[1].probability).to.be.closeTo(1, 1e-6);
  });

  it('predict CHECKPOINT FOLDER: the config stored in the checkpoint, every image of the folder; equal to predict CONFIG FILES', async () => {
    const ckpt = path.join(dir, 'run', 'model_0000006.safetensors');
    const folder = path.join(dir, 'data', 'val', 'red');
    const files = fs.readdirSync(folder).filter((f) => f.endsWith('.png')).sort().map((f) => path.join(folder, f));
    expect(files.length).to.be.at.least(2);
    const byConfig = JSON.parse(await runCli(['predict', cfgFile, ...files, '--checkpoint', ckpt, '--json']));
    const byCheckpoint = JSON.parse(await runCli(['predict', ckpt, folder, '--json']));
    expect(byCheckpoint).to.deep.equal(byConfig);
    // --set applies to the stored config too (a key predict does not use, so the output is the same), and a bad
    // key is one error naming it.
    const withSet = JSON.parse(await runCli(['predict', ckpt, folder, '--json', '--set', 'train.seed=5']));
    expect(withSet).to.deep.equal(byConfig);
    const err = await runCli(['predict', ckpt, folder, '--set', 'train.noSuchKey=1']).then(() => '', (e: Error) => e.message);
    expect(err).to.match(/stored config\) with --set train\.noSuchKey=1.*noSuchKey/s);
    const both = await runCli(['predict', ckpt, folder, '--checkpoint', ckpt]).then(() => '', (e: Error) => e.message);
    expect(both).to.contain('is not a .json config; with --checkpoint or --weights the first argument is the config');
  });

  it('--set overrides config keys of train and eval by dotted path; malformed or unknown keys are one error each', async () => {
    const ckpt = path.join(dir, 'run', 'model_0000006.safetensors');
    const plain = await runCli(['eval', cfgFile, '--checkpoint', ckpt, '--quiet']);
    const set = await runCli(['eval', cfgFile, '--checkpoint', ckpt, '--quiet', '--set', 'train.batchSize=1', '--set', 'train.numWorkers=1']);
    expect(set).to.equal(plain); // batch size and workers change how, not what, is evaluated
    const bad = async (arg: string) => runCli(['eval', cfgFile, '--checkpoint', ckpt, '--set', arg]).then(() => '', (e: Error) => e.message);
    expect(await bad('train.batchSize=0')).to.match(/with --set train\.batchSize=0.*batchSize/s);
    expect(await bad('batchSize')).to.contain('--set batchSize: expected key=value');
    expect(await bad('nothere.x=1')).to.contain("--set nothere.x=1: the config has no object at 'nothere'");
  });

  it('export-weights writes torchvision names that load back to the same logits', async () => {
    const ckpt = path.join(dir, 'run', 'model_0000006.safetensors');
    const exported = path.join(dir, 'exported.safetensors');
    await runCli(['export-weights', ckpt, '--format', 'torchvision', '--out', exported]);
    const cfg = loadConfig(cfgFile) as ClassificationConfig;
    const { model } = await loadClassifierCheckpoint(cfg, ckpt);
    const fresh = buildClassifier({ ...cfg, train: { ...cfg.train, seed: 99 } }, 2);
    const report = await loadTorchvisionWeights(fresh, exported, { strict: true });
    expect(report.ignored.filter((n) => n.endsWith('num_batches_tracked')).length).to.equal(20);
    const x = tf.tensor4d(seededFloats(2 * 32 * 32 * 3, 11), [2, 32, 32, 3]);
    const [ya, yb] = [model.forward(x, { training: false }), fresh.forward(x, { training: false })];
    expect(Array.from(await yb.data())).to.deep.equal(Array.from(await ya.data()));
    tf.dispose([x, ya, yb]);
    model.dispose();
    fresh.dispose();
  });

  it('features writes [N, 512] embeddings equal to the backbone embedding of each preprocessed image', async () => {
    const exported = path.join(dir, 'exported.safetensors');
    const outNpy = path.join(dir, 'feats.npy');
    const images = path.join(dir, 'data', 'val');
    await runCli(['features', '--model', 'resnet18', '--weights', exported, '--images', images, '--out', outNpy, '--resize', '36', '--crop', '32', '--quiet']);
    const { data, shape } = decodeNpyFloat32(fs.readFileSync(outNpy));
    expect(shape).to.deep.equal([6, 512]);
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'feats.json'), 'utf8'));
    expect(index.files).to.deep.equal(['blue/blue_0.png', 'blue/blue_1.png', 'blue/blue_2.png', 'red/red_0.png', 'red/red_1.png', 'red/red_2.png']);
    const { model } = await loadClassifierCheckpoint(loadConfig(cfgFile) as ClassificationConfig, path.join(dir, 'run', 'model_0000006.safetensors'));
    const s = await classificationEvalTransform({ resizeSize: 36, cropSize: 32 })({ file: path.join(images, 'red/red_2.png'), label: 0 }, undefined as never);
    const x = tf.tensor4d(s.image.data, [1, 32, 32, 3]);
    const e = model.backbone.embed(x);
    const expected = await e.data();
    tf.dispose([x, e]);
    model.dispose();
    const row = data.subarray(5 * 512, 6 * 512);
    let maxDiff = 0;
    for (let i = 0; i < 512; i++) maxDiff = Math.max(maxDiff, Math.abs(row[i] - expected[i]));
    // Batched (6 images) vs single-image forward: float32 reassociation only.
    expect(maxDiff).to.be.below(1e-5);
  });

  it('bad input: a checkpoint of another architecture and a missing data folder are one clear error each', async () => {
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    cfg.model.backbone.name = 'resnet34';
    const other = path.join(dir, 'cfg34.json');
    fs.writeFileSync(other, JSON.stringify(cfg));
    let err: Error | undefined;
    try {
      await runCli(['eval', other, '--checkpoint', path.join(dir, 'run', 'model_0000006.safetensors')]);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.match(/model_0000006\.safetensors: checkpoint of architecture 'resnet18 classifier' does not fit this model: missing: layer1\.2\./);
    cfg.model.backbone.name = 'resnet18';
    cfg.data.root = path.join(dir, 'nowhere');
    fs.writeFileSync(other, JSON.stringify(cfg));
    err = undefined;
    try {
      await runCli(['train', other, '--quiet']);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.equal(
      `data folder not found: ${path.join(dir, 'nowhere', 'train')} (data.root in the config, or --data, must be an ImageFolder root with train/ and val/)`,
    );
  });
});
