/**
 * Prediction in shards (`resvision predict --shard k/N --out DIR`, then `resvision merge`) against one `predict
 * --json` run over the same image list: a RetinaNet (shards as separate processes, as a job scheduler would start
 * them), a classifier and a Semantic FPN, each trained for one step on small data; the merged JSON must be the one
 * run's, character for character, and so must the pictures, masks and `detections.json`. Then the refusals: a missing shard, a repeated one,
 * parts of another config or image list, evaluation parts among prediction parts, a part whose predictions were
 * reordered, and `--shard` without `--out`.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { encodePaletteMask } from '../../src/tasks/overlay';
import { readPredictParts } from '../../src/tasks/shards';
import { cliError, lastCheckpoint, runCli, runCliProcess } from '../helpers/cli';
import { trainTinyClassifier } from '../helpers/tiny_classifier';
import { trainTinyDetector } from '../helpers/tiny_detector';
import { seededFloats } from '../helpers/tensors';

const REPO = path.resolve(__dirname, '../..');
const N = 3;

/** `p` as a regular expression matching itself. */
const literal = (p: string): string => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('predict shards: detection (RetinaNet ResNet-18; shards as separate processes)', function () {
  this.timeout(900_000);
  let dir: string;
  let ckpt: string;
  let images: string[];
  let parts: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-pshard-det-'));
    const tiny = await trainTinyDetector(dir, (cfg) => {
      cfg.model.postprocess = { ...cfg.model.postprocess, scoreThresh: 0, detectionsPerImage: 20 };
      cfg.predict.scoreThresh = 0;
    });
    ckpt = tiny.ckpt;
    // 7 images of 5 sizes, in a folder (expanded and sorted) and as a file: shards of 3, 2 and 2 images.
    const folder = path.join(dir, 'images');
    fs.mkdirSync(path.join(folder, 'crops'), { recursive: true });
    for (const f of tiny.images) fs.copyFileSync(f, path.join(folder, path.basename(f)));
    const src = tiny.images[0];
    await sharp(src).extract({ left: 0, top: 0, width: 200, height: 150 }).png().toFile(path.join(folder, 'crops', 'a.png'));
    await sharp(src).extract({ left: 100, top: 50, width: 120, height: 160 }).png().toFile(path.join(folder, 'crops', 'b.png'));
    await sharp(src).resize(96, 72).jpeg().toFile(path.join(folder, 'crops', 'c.jpg'));
    const single = path.join(dir, 'single.png');
    await sharp(src).extract({ left: 300, top: 200, width: 90, height: 90 }).png().toFile(single);
    images = [folder, single];
    parts = path.join(dir, 'parts');
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('3 shard processes merged: the JSON, pictures and detections.json of one `predict --json --out` run', async () => {
    const onceOut = path.join(dir, 'once');
    const once = await runCli(['predict', ckpt, ...images, '--json', '--out', onceOut]);
    const onceList = JSON.parse(once) as { file: string; detections: unknown[] }[];
    expect(onceList).to.have.length(7);
    expect(onceList.every((p) => p.detections.length > 0), 'every image has detections').to.equal(true);
    const lines = await Promise.all(Array.from({ length: N }, (_, k) => runCliProcess(['predict', ckpt, ...images, '--shard', `${k}/${N}`, '--out', parts])));
    lines.forEach((line, k) => expect(line).to.contain(`wrote ${path.join(parts, `predict-part-${k}-of-${N}.json`)} (shard ${k}/${N}: ${k === 0 ? 3 : 2} of 7 images)`));
    expect(fs.existsSync(path.join(parts, 'detections.json')), 'a shard leaves detections.json to the merge').to.equal(false);
    const mergedOut = path.join(dir, 'merged');
    const merged = await runCli(['merge', parts, '--out', mergedOut]);
    expect(merged.replaceAll(parts, 'OUT')).to.equal(once.replaceAll(onceOut, 'OUT'));
    // Each part holds its shard's images in list order: image i is prediction floor(i / 3) of part i mod 3.
    const read = readPredictParts([parts]);
    expect(read.map((p) => [p.part.shard.index, p.part.numImages, p.part.totalImages])).to.deep.equal([[0, 3, 7], [1, 2, 7], [2, 2, 7]]);
    expect(read[1].part.predictions.map((p) => p.file)).to.deep.equal([onceList[1].file, onceList[4].file]);
    const list = (out: string, pictures: string) => fs.readFileSync(path.join(out, 'detections.json'), 'utf8').replaceAll(pictures, 'OUT');
    expect(list(mergedOut, parts)).to.equal(list(onceOut, onceOut));
    const pictures = fs.readdirSync(onceOut).filter((f) => f !== 'detections.json').sort();
    expect(pictures).to.have.length(7);
    for (const f of pictures) expect(fs.readFileSync(path.join(parts, f)).equals(fs.readFileSync(path.join(onceOut, f))), f).to.equal(true);
  });

  it('a missing shard, a repeated one, another config, another image list, eval parts and reordered predictions are refused naming the files', async () => {
    const p = (k: number, d = parts) => path.join(d, `predict-part-${k}-of-${N}.json`);
    expect(await cliError(['merge', p(0), p(2)])).to.equal(`merge: shard 1/3 missing; given: ${p(0)}, ${p(2)}`);
    expect(await cliError(['merge', p(0), p(1), p(2), p(2)])).to.equal(`merge: shard 2/3 is given twice: ${p(2)} and ${p(2)}`);

    const other = path.join(dir, 'other');
    await runCli(['predict', ckpt, ...images, '--shard', `1/${N}`, '--out', other, '--score-thresh', '0.5']);
    expect(await cliError(['merge', p(0), p(1, other), p(2)])).to.match(new RegExp(`^merge: ${literal(p(0))} and ${literal(p(1, other))} are parts of different predict runs: config \\(SHA-256\\) [0-9a-f]{64} vs [0-9a-f]{64}$`));

    const fewer = path.join(dir, 'fewer');
    await runCli(['predict', ckpt, images[0], '--shard', `1/${N}`, '--out', fewer]);
    expect(await cliError(['merge', p(0), p(1, fewer), p(2)])).to.equal(`merge: ${p(0)} and ${p(1, fewer)} are parts of different predict runs: image count 7 vs 6`);

    const evalPart = path.join(dir, 'eval-part-1-of-3.json');
    fs.writeFileSync(evalPart, JSON.stringify({ ...JSON.parse(fs.readFileSync(p(1), 'utf8')), format: 'resvision-eval-part', state: {} }));
    expect(await cliError(['merge', p(0), evalPart, p(2)])).to.equal(`merge: ${p(0)} is a prediction part but ${evalPart} is an evaluation part; merge the parts of one run`);

    // Two images of a shard swapped: the counts still add up, the image list does not.
    const forged = path.join(dir, 'forged');
    fs.mkdirSync(forged);
    for (let k = 0; k < N; k++) fs.copyFileSync(p(k), p(k, forged));
    const part = JSON.parse(fs.readFileSync(p(0, forged), 'utf8'));
    part.predictions.reverse();
    fs.writeFileSync(p(0, forged), JSON.stringify(part));
    expect(await cliError(['merge', forged])).to.equal(`merge: the predictions' files, in shard order, are not the image list the parts were run on: ${p(0, forged)}, ${p(1, forged)}, ${p(2, forged)}`);
    part.predictions.pop();
    fs.writeFileSync(p(0, forged), JSON.stringify(part));
    expect(await cliError(['merge', forged])).to.equal(`merge: ${p(0, forged)}: shard 0/3 of 7 images holds 3 images, the part says 3 and has 2 predictions`);

    expect(await cliError(['predict', ckpt, ...images, '--shard', '0/3'])).to.equal('resvision predict --shard 0/3: give --out DIR, the folder the part is written to');
  });
});

describe('predict shards: classification (ImageFolder, ResNet-18; in-process)', function () {
  this.timeout(600_000);
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-pshard-cls-'));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('3 shards merged print the one `predict --json` run; an empty shard writes a part of 0 images', async () => {
    const { ckpt } = await trainTinyClassifier(dir, { blue: [30, 60, 200], green: [40, 190, 60] }, { train: 2, val: 2 });
    const images = path.join(dir, 'data', 'val');

    const once = await runCli(['predict', ckpt, images, '--json']);
    expect(JSON.parse(once)).to.have.length(4);
    const parts = path.join(dir, 'parts');
    for (let k = 0; k < N; k++) await runCli(['predict', ckpt, images, '--shard', `${k}/${N}`, '--out', parts]);
    expect(await runCli(['merge', parts])).to.equal(once);

    const ten = path.join(dir, 'ten');
    expect(await runCli(['predict', ckpt, images, '--shard', '9/10', '--out', ten])).to.contain('(shard 9/10: 0 of 4 images)');
    const part = JSON.parse(fs.readFileSync(path.join(ten, 'predict-part-9-of-10.json'), 'utf8'));
    expect([part.format, part.task, part.numImages, part.totalImages, part.predictions]).to.deep.equal(['resvision-predict-part', 'classification', 0, 4, []]);
  });
});

describe('predict shards: segmentation (Semantic FPN, ResNet-18; in-process)', function () {
  this.timeout(600_000);
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-pshard-seg-'));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('3 shards merged print the one `predict --json --out` run; the masks and overlays are the one run\'s', async () => {
    const root = path.join(dir, 'voc');
    for (const d of ['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation']) fs.mkdirSync(path.join(root, d), { recursive: true });
    const ids: string[] = [];
    for (let n = 0; n < 4; n++) {
      const id = `img_${n}`;
      const noise = seededFloats(64 * 48 * 3, 100 + n);
      const px = Buffer.from(Array.from(noise, (v) => Math.round(100 + 50 * v)));
      const mask = new Uint8Array(64 * 48);
      for (let y = 0; y < 48; y++) {
        for (let x = 0; x < 64; x++) {
          const c = x >= 4 + 3 * n && x < 28 + 3 * n && y >= 8 && y < 32 ? 1 : 0;
          mask[y * 64 + x] = c;
          if (c > 0) px.fill(230, 3 * (y * 64 + x), 3 * (y * 64 + x) + 1);
        }
      }
      await sharp(px, { raw: { width: 64, height: 48, channels: 3 } }).png().toFile(path.join(root, 'JPEGImages', `${id}.png`));
      fs.writeFileSync(path.join(root, 'SegmentationClass', `${id}.png`), encodePaletteMask(mask, 48, 64));
      ids.push(id);
    }
    for (const split of ['train', 'val']) fs.writeFileSync(path.join(root, 'ImageSets/Segmentation', `${split}.txt`), `${ids.join('\n')}\n`);
    const cfg = JSON.parse(fs.readFileSync(path.join(REPO, 'configs/segmentation/semantic_fpn_r50_voc_seg.json'), 'utf8'));
    cfg.model = { ...cfg.model, numClasses: 2, backbone: { ...cfg.model.backbone, name: 'resnet18' }, head: { type: 'semantic_fpn', fpnChannels: 32, convDims: 16, numGroups: 8 } };
    cfg.data = {
      ...cfg.data, root, imageExt: '.png', classNames: ['background', 'square'],
      trainShortEdge: { min: 48, max: 48 }, trainCropSize: 48, flipProbability: 0, evalShortEdge: 48,
    };
    cfg.schedule = { maxIter: 1, main: { kind: 'poly', power: 0.9 } };
    cfg.train = { seed: 2, batchSize: 2, numWorkers: 1, logEvery: 1, evalEvery: 0, checkpointEvery: 1, outputDir: path.join(dir, 'run') };
    const cfgFile = path.join(dir, 'cfg.json');
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    await runCli(['train', cfgFile, '--quiet', '--no-eval']);
    const ckpt = lastCheckpoint(path.join(dir, 'run'));
    const images = path.join(root, 'JPEGImages');

    const onceOut = path.join(dir, 'once');
    const once = await runCli(['predict', ckpt, images, '--json', '--out', onceOut]);
    expect(JSON.parse(once)).to.have.length(4);
    const parts = path.join(dir, 'parts');
    for (let k = 0; k < N; k++) await runCli(['predict', ckpt, images, '--shard', `${k}/${N}`, '--out', parts]);
    expect((await runCli(['merge', parts])).replaceAll(parts, 'OUT')).to.equal(once.replaceAll(onceOut, 'OUT'));
    const pictures = fs.readdirSync(onceOut).sort();
    expect(pictures).to.have.length(8); // a mask and an overlay per image
    for (const f of pictures) expect(fs.readFileSync(path.join(parts, f)).equals(fs.readFileSync(path.join(onceOut, f))), f).to.equal(true);
  });
});
