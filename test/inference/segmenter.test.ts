/**
 * The inference API on a segmentation checkpoint: `loadSegmenter(...).segment(image)` gives the class map
 * `resvision predict --out` writes (palette PNG at the original size) and the classes and shares it prints with
 * `--json`, with the config's test-time options (two scales and flip here); bytes and paths load the same model; a
 * tensor, ImageData-like pixels and a path are the same image; nothing leaks. The checkpoint comes from a 2-iteration
 * `resvision train` of an FCN on a ResNet-50 (layer4 and the heads trained; with the auxiliary head, which inference leaves out) on two generated
 * images with three classes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { readLabelMask } from '../../datasets/pipeline/png_index';
import * as core from '../../src/inference';
import { loadSegmenter } from '../../src/inference/node';
import { encodePaletteMask } from '../../src/tasks/overlay';
import { runCli } from '../helpers/cli';
import { expectNoLeak, seededFloats } from '../helpers/tensors';

const CLASSES = ['background', 'square', 'bar'];
/** Image W x H (not square, odd sizes: the resize and the mapping back are not trivial). */
const W = 45;
const H = 37;

/** A VOC-layout tree of two noisy images, each with a square (class 1) and a bar (class 2) on a background. */
async function makeVocTree(root: string): Promise<string[]> {
  for (const d of ['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation']) fs.mkdirSync(path.join(root, d), { recursive: true });
  const ids = ['img_a', 'img_b'];
  for (const [n, id] of ids.entries()) {
    const mask = new Uint8Array(W * H);
    const px = Buffer.alloc(W * H * 3);
    const noise = seededFloats(W * H * 3, 7 + n);
    const colours = [[90, 90, 90], [220, 40, 40], [40, 40, 220]];
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const k = x >= 5 + 10 * n && x < 20 + 10 * n && y >= 6 && y < 21 ? 1 : y >= 28 && y < 33 ? 2 : 0;
        mask[y * W + x] = k;
        for (let c = 0; c < 3; c++) px[(y * W + x) * 3 + c] = Math.max(0, Math.min(255, colours[k][c] + Math.round(30 * noise[(y * W + x) * 3 + c])));
      }
    }
    await sharp(px, { raw: { width: W, height: H, channels: 3 } }).png().toFile(path.join(root, 'JPEGImages', `${id}.png`));
    fs.writeFileSync(path.join(root, 'SegmentationClass', `${id}.png`), encodePaletteMask(mask, H, W));
  }
  for (const s of ['train', 'val']) fs.writeFileSync(path.join(root, 'ImageSets/Segmentation', `${s}.txt`), `${ids.join('\n')}\n`);
  return ids.map((id) => path.join(root, 'JPEGImages', `${id}.png`));
}

describe('inference API: loadSegmenter', function () {
  this.timeout(300_000);
  let dir: string;
  let cfgFile: string;
  let ckpt: string;
  let images: string[];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-infer-seg-'));
    images = await makeVocTree(path.join(dir, 'voc'));
    const cfg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../configs/segmentation/fcn_r50_os16_cocotiny.json'), 'utf8'));
    cfg.model = { ...cfg.model, numClasses: 3, aux: true, backbone: { name: 'resnet50', normLayer: 'batch', frozenStages: 3 } };
    cfg.data = {
      ...cfg.data, root: path.join(dir, 'voc'), imageExt: '.png', classNames: CLASSES,
      trainShortEdge: { min: 37, max: 37 }, trainCropSize: 32, flipProbability: 0, evalShortEdge: 40,
    };
    cfg.eval = { scales: [0.75, 1], flip: true, slidingWindow: null };
    cfg.optimizer = { ...cfg.optimizer, baseLr: 0.01, baseBatchSize: 2 };
    cfg.schedule = { maxIter: 2, main: { kind: 'poly', power: 0.9 } };
    cfg.train = { seed: 5, batchSize: 2, numWorkers: 1, logEvery: 1, evalEvery: 0, checkpointEvery: 2, outputDir: path.join(dir, 'run') };
    cfgFile = path.join(dir, 'cfg.json');
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    await runCli(['train', cfgFile, '--quiet']);
    ckpt = path.join(dir, 'run', 'model_0000002.safetensors');
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('segment(path) equals `resvision predict`: the mask PNG pixel for pixel, the classes and shares of --json', async () => {
    const outDir = path.join(dir, 'predict');
    const cli = JSON.parse(await runCli(['predict', cfgFile, ...images, '--checkpoint', ckpt, '--out', outDir, '--json'])) as {
      classes: core.SegmentClass[];
      maskFile: string;
    }[];
    const segmenter = await loadSegmenter(ckpt);
    try {
      expect(segmenter.classes).to.deep.equal(CLASSES);
      expect(segmenter.inferenceOptions).to.deep.equal({ shortEdge: 40, scales: [0.75, 1], flip: true, slidingWindow: null });
      for (const [i, file] of images.entries()) {
        const seg = await segmenter.segment(file);
        expect([seg.height, seg.width]).to.deep.equal([H, W]);
        const written = await readLabelMask(cli[i].maskFile);
        expect(Buffer.from(seg.classMap).equals(Buffer.from(written.mask))).to.equal(true);
        expect(seg.classes).to.deep.equal(cli[i].classes);
        // Class boundaries are part of the comparison: the map is not one class.
        expect(seg.classes.length).to.be.at.least(2);
        expect(seg.probabilities.length).to.equal(H * W * CLASSES.length);
        // The class map is the argmax of the probabilities (lowest index on ties, as tf.argMax).
        for (let p = 0; p < H * W; p += 97) {
          const row = Array.from(seg.probabilities.subarray(3 * p, 3 * p + 3));
          expect(seg.classMap[p]).to.equal(row.indexOf(Math.max(...row)));
        }
      }
      // Overriding the test-time options changes the passes: one scale without flip is not the two-scale average.
      const one = await segmenter.segment(images[0], { scales: [1], flip: false });
      const both = await segmenter.segment(images[0]);
      expect(Array.from(one.probabilities.subarray(0, 30))).to.not.deep.equal(Array.from(both.probabilities.subarray(0, 30)));
    } finally {
      segmenter.dispose();
    }
  });

  it('bytes (resvision/core) and a path load the same model; Tensor3D, ImageData-like and path inputs agree; no leak', async () => {
    const fromPath = await loadSegmenter(ckpt);
    const fromBytes = await core.loadSegmenter(new Uint8Array(fs.readFileSync(ckpt)));
    try {
      const rgb = await sharp(images[1]).raw().toBuffer({ resolveWithObject: true });
      const rgba = await sharp(images[1]).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      const t = tf.tensor3d(new Uint8Array(rgb.data), [H, W, 3], 'int32');
      const byPath = await fromPath.segment(images[1]);
      for (const seg of [await fromBytes.segment(t), await fromBytes.segment({ data: new Uint8ClampedArray(rgba.data), width: W, height: H })]) {
        expect(Buffer.from(seg.classMap).equals(Buffer.from(byPath.classMap))).to.equal(true);
        expect(Buffer.from(seg.probabilities.buffer).equals(Buffer.from(byPath.probabilities.buffer))).to.equal(true);
        expect(seg.classes).to.deep.equal(byPath.classes);
      }
      await expectNoLeak(() => fromBytes.segment(t));
      t.dispose();
    } finally {
      fromPath.dispose();
      fromBytes.dispose();
    }
    await expectNoLeak(async () => (await loadSegmenter(ckpt)).dispose());
  });
});
