/**
 * Evaluation in shards (`resvision eval --shard k/N --out DIR`, then `resvision merge`) against one evaluation of the
 * same checkpoint: a classifier, a RetinaNet and a Semantic FPN, each trained for one step on small data, evaluated
 * once and as 3 shards; the merged report must be the one run's, character for character (the detection shards run
 * as separate processes, as a job scheduler would start them). Then the refusals: a missing shard, a repeated one,
 * parts of another config.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { parseShard, shardIndices } from '../../src/common/shard';
import { encodePaletteMask } from '../../src/tasks/overlay';
import { readEvalParts } from '../../src/tasks/shards';
import { cliError, lastCheckpoint, runCli, runCliProcess } from '../helpers/cli';
import { trainTinyClassifier } from '../helpers/tiny_classifier';
import { trainTinyDetector } from '../helpers/tiny_detector';
import { seededFloats } from '../helpers/tensors';

const REPO = path.resolve(__dirname, '../..');
const N = 3;

/** `resvision merge` of `args`, its error message, or '' when it succeeds. */
const mergeError = (args: string[]): Promise<string> => cliError(['merge', ...args]);

/** Evaluate `ckpt` once and as N shards (in-process), merge, and return both reports and the parts' folder. */
async function onceAndSharded(cfgFile: string, ckpt: string, dir: string): Promise<{ once: string; merged: string; parts: string }> {
  const once = await runCli(['eval', cfgFile, '--checkpoint', ckpt, '--quiet']);
  const parts = path.join(dir, 'parts');
  for (let k = 0; k < N; k++) {
    const line = await runCli(['eval', cfgFile, '--checkpoint', ckpt, '--quiet', '--shard', `${k}/${N}`, '--out', parts]);
    expect(line).to.contain(path.join(parts, `eval-part-${k}-of-${N}.json`));
  }
  const merged = await runCli(['merge', parts]);
  return { once, merged, parts };
}

describe('shards: k/N parsing and the round-robin split', () => {
  it('image i goes to shard i mod N; the shards cover 0..n-1 once', () => {
    expect(shardIndices(7, { index: 1, count: 3 })).to.deep.equal([1, 4]);
    expect(shardIndices(2, { index: 2, count: 3 })).to.deep.equal([]);
    const all = [0, 1, 2].flatMap((k) => shardIndices(10, { index: k, count: 3 })).sort((a, b) => a - b);
    expect(all).to.deep.equal(Array.from({ length: 10 }, (_, i) => i));
  });

  it('parseShard reads k/N and refuses k >= N, N = 0 and other text naming the value', () => {
    expect(parseShard('2/8')).to.deep.equal({ index: 2, count: 8 });
    for (const bad of ['3/3', '0/0', '1', '-1/2', 'a/b', '1.5/4']) expect(() => parseShard(bad)).to.throw(`--shard '${bad}'`);
  });
});

describe('shards: classification (ImageFolder, ResNet-18)', function () {
  this.timeout(600_000);
  let dir: string;
  let cfgFile: string;
  let ckpt: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-shard-cls-'));
    ({ cfgFile, ckpt } = await trainTinyClassifier(dir, { blue: [30, 60, 200], green: [40, 190, 60], red: [200, 40, 30] }, { train: 2, val: 3 }));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('3 shards merged print the one run\'s table: images, top-1, per-class accuracy, confusion matrix', async () => {
    const { once, merged, parts } = await onceAndSharded(cfgFile, ckpt, dir);
    expect(once).to.match(/^images: 9 {3}top-1: /);
    expect(merged).to.equal(once);
    // Each part holds its 3 images' counts: the shards' confusion matrices sum to the one run's.
    const read = readEvalParts([parts]);
    expect(read.map((p) => [p.part.shard.index, p.part.numImages, (p.part.state as { count: number }).count])).to.deep.equal([[0, 3, 3], [1, 3, 3], [2, 3, 3]]);
  });

  it('an empty shard (N larger than the split) writes a part of 0 images and zero counts', async () => {
    const out = path.join(dir, 'ten');
    expect(await runCli(['eval', cfgFile, '--checkpoint', ckpt, '--quiet', '--shard', '9/10', '--out', out])).to.contain('(shard 9/10: 0 of 9 images of split val)');
    const part = JSON.parse(fs.readFileSync(path.join(out, 'eval-part-9-of-10.json'), 'utf8'));
    expect([part.numImages, part.state.count, part.state.confusion.every((v: number) => v === 0)]).to.deep.equal([0, 0, true]);
  });

  it('a missing shard, a repeated one and parts of another config are refused naming the files', async () => {
    const parts = path.join(dir, 'parts');
    const p = (k: number) => path.join(parts, `eval-part-${k}-of-${N}.json`);
    expect(await mergeError([p(0), p(2)])).to.equal(`merge: shard 1/3 missing; given: ${p(0)}, ${p(2)}`);
    expect(await mergeError([p(0), p(1), p(2), p(1)])).to.equal(`merge: shard 1/3 is given twice: ${p(1)} and ${p(1)}`);
    const other = path.join(dir, 'other');
    await runCli(['eval', cfgFile, '--checkpoint', ckpt, '--quiet', '--shard', `1/${N}`, '--out', other, '--set', 'train.batchSize=1']);
    const msg = await mergeError([p(0), path.join(other, `eval-part-1-of-${N}.json`), p(2)]);
    expect(msg).to.match(new RegExp(`^merge: ${p(0).replace(/[.]/g, '\\.')} and ${other}/eval-part-1-of-3\\.json are parts of different evaluations: config \\(SHA-256\\) [0-9a-f]{64} vs [0-9a-f]{64}$`));
    const notPart = path.join(dir, 'cfg.json');
    expect(await mergeError([notPart])).to.contain(`merge: ${notPart}: not an evaluation part`);
    const noOut = await runCli(['eval', cfgFile, '--checkpoint', ckpt, '--shard', '0/3']).then(() => '', (e: Error) => e.message);
    expect(noOut).to.equal('resvision eval --shard 0/3: give --out DIR, the folder the part is written to');
  });
});

describe('shards: segmentation (Semantic FPN, ResNet-18, VOC layout)', function () {
  this.timeout(600_000);
  let dir: string;
  let cfgFile: string;
  let ckpt: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-shard-seg-'));
    const root = path.join(dir, 'voc');
    for (const d of ['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation']) fs.mkdirSync(path.join(root, d), { recursive: true });
    // 5 images of 64 x 64: a class-1 square and a class-2 square on noise, some pixels void (255).
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) {
      const id = `img_${n}`;
      const noise = seededFloats(64 * 64 * 3, 100 + n);
      const px = Buffer.from(Array.from(noise, (v) => Math.round(100 + 50 * v)));
      const mask = new Uint8Array(64 * 64);
      for (let y = 0; y < 64; y++) {
        for (let x = 0; x < 64; x++) {
          const c = x >= 4 + 3 * n && x < 28 + 3 * n && y >= 8 && y < 32 ? 1 : x >= 36 && y >= 36 + n ? 2 : 0;
          mask[y * 64 + x] = x === 63 ? 255 : c;
          if (c > 0) px.fill(c === 1 ? 230 : 20, 3 * (y * 64 + x), 3 * (y * 64 + x) + (c === 1 ? 1 : 3));
        }
      }
      await sharp(px, { raw: { width: 64, height: 64, channels: 3 } }).png().toFile(path.join(root, 'JPEGImages', `${id}.png`));
      fs.writeFileSync(path.join(root, 'SegmentationClass', `${id}.png`), encodePaletteMask(mask, 64, 64));
      ids.push(id);
    }
    for (const s of ['train', 'val']) fs.writeFileSync(path.join(root, 'ImageSets/Segmentation', `${s}.txt`), `${ids.join('\n')}\n`);
    const cfg = JSON.parse(fs.readFileSync(path.join(REPO, 'configs/segmentation/semantic_fpn_r50_voc_seg.json'), 'utf8'));
    cfg.model = { ...cfg.model, numClasses: 3, backbone: { ...cfg.model.backbone, name: 'resnet18' }, head: { type: 'semantic_fpn', fpnChannels: 32, convDims: 16, numGroups: 8 } };
    cfg.data = {
      ...cfg.data, root, imageExt: '.png', classNames: ['background', 'square', 'corner'],
      trainShortEdge: { min: 64, max: 64 }, trainCropSize: 64, flipProbability: 0, evalShortEdge: 64,
    };
    cfg.schedule = { maxIter: 1, main: { kind: 'poly', power: 0.9 } };
    cfg.train = { seed: 2, batchSize: 2, numWorkers: 1, logEvery: 1, evalEvery: 0, checkpointEvery: 1, outputDir: path.join(dir, 'run') };
    cfgFile = path.join(dir, 'cfg.json');
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    await runCli(['train', cfgFile, '--quiet', '--no-eval']);
    ckpt = lastCheckpoint(path.join(dir, 'run'));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('3 shards merged print the one run\'s mIoU table; the confusion matrices add', async () => {
    const { once, merged, parts } = await onceAndSharded(cfgFile, ckpt, dir);
    expect(once).to.contain('(5 images, percent)');
    expect(merged).to.equal(once);
    const read = readEvalParts([parts]);
    expect(read.map((p) => p.part.numImages)).to.deep.equal([2, 2, 1]);
    const sum = read.map((p) => p.part.state as { counts: number[] }).reduce((a, s) => a.map((v, j) => v + s.counts[j]), new Array<number>(12).fill(0));
    expect(sum.reduce((a, b) => a + b, 0)).to.equal(5 * 63 * 64); // every pixel but the void column
  });
});

describe('shards: detection (RetinaNet ResNet-18, VOC data; shards as separate processes)', function () {
  this.timeout(900_000);
  let dir: string;
  let cfgFile: string;
  let ckpt: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-shard-det-'));
    ({ cfgFile, ckpt } = await trainTinyDetector(dir, (cfg) => {
      // Every box the head proposes is kept (score threshold 0): many low, close scores put COCOeval's ordering to the test.
      cfg.model.postprocess = { ...cfg.model.postprocess, scoreThresh: 0, detectionsPerImage: 50 };
    }));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('3 shard processes merged: the 12 COCO numbers, per-class and VOC AP and the results file of the one run', async () => {
    const onceOut = path.join(dir, 'once');
    const once = await runCli(['eval', cfgFile, '--checkpoint', ckpt, '--quiet', '--out', onceOut]);
    expect(once).to.match(/^split all: 3 images, \d+ detections/);
    expect(Number(/(\d+) detections/.exec(once)![1])).to.be.greaterThan(3);
    const parts = path.join(dir, 'parts');
    await Promise.all(Array.from({ length: N }, (_, k) => runCliProcess(['eval', cfgFile, '--checkpoint', ckpt, '--quiet', '--shard', `${k}/${N}`, '--out', parts])));
    const mergedOut = path.join(dir, 'merged');
    const merged = await runCli(['merge', ...Array.from({ length: N }, (_, k) => path.join(parts, `eval-part-${k}-of-${N}.json`)), '--out', mergedOut]);
    expect(merged.replaceAll(mergedOut, 'OUT')).to.equal(once.replaceAll(onceOut, 'OUT'));
    for (const f of ['results_all.json', 'gt_all_coco.json']) {
      expect(fs.readFileSync(path.join(mergedOut, f), 'utf8'), f).to.equal(fs.readFileSync(path.join(onceOut, f), 'utf8'));
    }
  });

  it('a part whose state repeats a record of another shard is refused naming the file and the record', async () => {
    const parts = path.join(dir, 'parts');
    const forged = path.join(dir, 'forged');
    fs.mkdirSync(forged);
    for (let k = 0; k < N; k++) fs.copyFileSync(path.join(parts, `eval-part-${k}-of-${N}.json`), path.join(forged, `eval-part-${k}-of-${N}.json`));
    const f2 = path.join(forged, `eval-part-2-of-${N}.json`);
    const part = JSON.parse(fs.readFileSync(f2, 'utf8'));
    part.state.records[0].record = 0;
    fs.writeFileSync(f2, JSON.stringify(part));
    expect(await mergeError([forged])).to.match(new RegExp(`^merge: ${f2.replace(/[.]/g, '\\.')}: DetectionEvaluator\\.mergeState: record 0 \\(image id \\d+\\) was already added$`));
  });
});
