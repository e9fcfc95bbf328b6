/**
 * The inference API on a detection checkpoint: `loadDetector(...).detect(image)` gives what `resvision predict
 * --json` prints for the same files (classes, category ids, scores, boxes in original pixels); bytes and paths load
 * the same model; a tensor and a path are the same image; nothing leaks; a checkpoint of another task is one clear
 * error. The checkpoint comes from a 2-iteration `resvision train` of a ResNet-18 RetinaNet on the three BCCD
 * fixture images (3 classes) at shorter side 64 (`test/helpers/tiny_detector.ts`); thresholds near 0 keep the
 * untrained model's many low scores, so every image has hundreds of boxes to compare.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import * as core from '../../src/inference';
import { loadClassifier, loadDetector } from '../../src/inference/node';
import type { PredictedBox } from '../../src/tasks/detection';
import { runCli } from '../helpers/cli';
import { expectNoLeak } from '../helpers/tensors';
import { trainTinyDetector } from '../helpers/tiny_detector';

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
    const tiny = await trainTinyDetector(dir);
    ({ cfgFile, ckpt } = tiny);
    images = tiny.images.slice(0, 2);
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
