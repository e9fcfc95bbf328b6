/**
 * The inference API on a detection checkpoint: `loadDetector(...).detect(image)` gives what `resvision predict
 * --json` prints for the same files (classes, category ids, scores, boxes in original pixels); bytes and paths load
 * the same model; a tensor and a path are the same image; nothing leaks; a checkpoint of another task is one clear
 * error. The checkpoint comes from a 2-iteration `resvision train` of a ResNet-18 RetinaNet on the three BCCD
 * fixture images (3 classes) at shorter side 64; thresholds near 0 keep the untrained model's many low scores, so
 * every image has hundreds of boxes to compare.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { retinaNetAnchorSizes } from '../../heads/detection/anchors';
import * as core from '../../src/inference';
import { loadClassifier, loadDetector } from '../../src/inference/node';
import type { PredictedBox } from '../../src/tasks/detection';
import { runCli } from '../helpers/cli';
import { expectNoLeak } from '../helpers/tensors';

const REPO = path.resolve(__dirname, '../..');
const BCCD = path.join(REPO, 'test/fixtures/bccd/BCCD');
const IDS = ['BloodImage_00147', 'BloodImage_00249', 'BloodImage_00338'];

/** Boxes and scores agree within 1e-4 (the brief's tolerance; both sides run the same code, so they are equal). */
function expectSameDetections(api: PredictedBox[], cli: PredictedBox[]): void {
  expect(api.length).to.equal(cli.length);
  api.forEach((d, i) => {
    const c = cli[i];
    expect([d.className, d.label, d.categoryId]).to.deep.equal([c.className, c.label, c.categoryId]);
    expect(d.score).to.be.closeTo(c.score, 1e-4);
    d.boxXyxy.forEach((v, k) => expect(v).to.be.closeTo(c.boxXyxy[k], 1e-4));
  });
}

describe('inference API: loadDetector', function () {
  this.timeout(300_000);
  let dir: string;
  let cfgFile: string;
  let ckpt: string;
  let images: string[];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-infer-det-'));
    const root = path.join(dir, 'BCCD');
    fs.mkdirSync(path.join(root, 'ImageSets', 'Main'), { recursive: true });
    for (const sub of ['Annotations', 'JPEGImages']) fs.cpSync(path.join(BCCD, sub), path.join(root, sub), { recursive: true });
    fs.writeFileSync(path.join(root, 'ImageSets', 'Main', 'all.txt'), `${IDS.join('\n')}\n`);
    const cfg = JSON.parse(fs.readFileSync(path.join(REPO, 'configs/detection/retinanet_r50_fpn.json'), 'utf8'));
    cfg.model.backbone = { name: 'resnet18', normLayer: 'batch', frozenStages: 0, zeroInitResidual: false, replaceStrideWithDilation: [false, false, false] };
    cfg.model.fpn.channels = 32;
    cfg.model.anchors = { sizes: retinaNetAnchorSizes().map((l) => l.map((v) => Math.round(v / 4))), aspectRatios: cfg.model.anchors.aspectRatios };
    cfg.model.postprocess.scoreThresh = 0.001;
    cfg.predict.scoreThresh = 0.002;
    cfg.data = {
      format: 'voc', root, trainSplit: 'all', valSplit: 'all', annotationsDir: 'Annotations', imagesDir: 'JPEGImages', imageExt: '.jpg',
      use07Metric: false, classes: ['RBC', 'WBC', 'Platelets'], trainShortEdge: [64], trainMaxSize: 1000, evalShortEdge: 64,
      evalMaxSize: 1000, flipProbability: 0, filterEmpty: false,
    };
    cfg.optimizer = { ...cfg.optimizer, baseLr: 0.01, baseBatchSize: 3, gradClipNorm: 1 };
    cfg.schedule = { maxIter: 2, main: { kind: 'multistep', gamma: 0.1, milestoneFractions: [0.5] } };
    cfg.train = { seed: 0, batchSize: 3, numWorkers: 1, logEvery: 1, evalEvery: 0, checkpointEvery: 2, outputDir: path.join(dir, 'run') };
    cfgFile = path.join(dir, 'cfg.json');
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    await runCli(['train', cfgFile, '--quiet']);
    ckpt = path.join(dir, 'run', 'model_0000002.safetensors');
    images = IDS.slice(0, 2).map((id) => path.join(root, 'JPEGImages', `${id}.jpg`));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('detect(path) equals `resvision predict --json` on the same files: classes, category ids, scores, boxes (1e-4)', async () => {
    const cli = JSON.parse(await runCli(['predict', cfgFile, ...images, '--checkpoint', ckpt, '--json'])) as { detections: PredictedBox[] }[];
    const detector = await loadDetector(ckpt);
    try {
      expect(detector.classes).to.deep.equal(['RBC', 'WBC', 'Platelets']);
      for (const [i, file] of images.entries()) {
        const dets = await detector.detect(file);
        expect(dets.length).to.be.greaterThan(10);
        expectSameDetections(dets, cli[i].detections);
        // Original pixels of the 640x480 image, not the 85x64 network input.
        expect(Math.max(...dets.map((d) => d.boxXyxy[2]))).to.be.greaterThan(100);
        for (const d of dets) expect(d.boxXyxy[2]).to.be.at.most(640);
      }
      // The threshold option overrides predict.scoreThresh; the detections kept are the top of the same list.
      const all = await detector.detect(images[0]);
      const cut = all[Math.floor(all.length / 2)].score;
      const some = await detector.detect(images[0], { scoreThreshold: cut });
      expect(some).to.deep.equal(all.filter((d) => d.score >= cut));
    } finally {
      detector.dispose();
    }
  });

  it('bytes (resvision/core) and a path load the same detector; a Tensor3D and a path are the same image; no leak', async () => {
    const bytes = fs.readFileSync(ckpt);
    const fromPath = await loadDetector(ckpt);
    const fromBytes = await core.loadDetector(new Uint8Array(bytes));
    try {
      const px = await sharp(images[1]).raw().toBuffer({ resolveWithObject: true });
      const t = tf.tensor3d(new Uint8Array(px.data), [px.info.height, px.info.width, 3], 'int32');
      const byPath = await fromPath.detect(images[1]);
      expect(await fromBytes.detect(t)).to.deep.equal(byPath);
      expect(await fromPath.detect(t)).to.deep.equal(byPath);
      await expectNoLeak(() => fromBytes.detect(t));
      t.dispose();
    } finally {
      fromPath.dispose();
      fromBytes.dispose();
    }
    await expectNoLeak(async () => (await loadDetector(ckpt)).dispose());
  });

  it('a detection checkpoint given to loadClassifier is one error naming the file and both tasks', async () => {
    const err = await loadClassifier(ckpt).catch((e: Error) => e);
    expect((err as Error).message).to.equal(`${ckpt}: a detection checkpoint, not a classification one`);
  });
});
