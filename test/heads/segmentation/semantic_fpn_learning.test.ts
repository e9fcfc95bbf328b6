/**
 * Semantic FPN learns real data: a ResNet-18 Semantic FPN overfits the two photographs of the segmentation fixture
 * (test/fixtures/coco_images, CC BY 2.0 COCO val2017: a stop sign and a toilet, masks rasterized from their COCO
 * polygons with the mask API, as test/tasks/segmentation.test.ts builds them) to mIoU >= 0.8 over background, stop
 * sign and toilet, scored by `SegmentationConfusion` on the class maps of `SemanticFpn.predict`.
 *
 * Each image is the square window of twice the object's larger box side centred on the box, resized to 80x80 (the
 * mask by nearest neighbour). 80 is not a multiple of 32: `collateSegmentation` pads the training batch to 96 (masks
 * with the ignore index 255) and `predict` pads each pass and crops the logits back, so both padding paths are part
 * of the run. No pretrained weights: trainable BatchNorm; one fixed batch, deterministic seeds.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { Coco } from '../../../datasets/coco/coco';
import { rleDecode } from '../../../datasets/coco/mask_api';
import type { CocoDatasetJson } from '../../../datasets/coco/types';
import { collateSegmentation, disposeSegmentationBatch } from '../../../datasets/collate_segmentation';
import { identityMeta } from '../../../datasets/pipeline/geometry';
import { normalizeImage } from '../../../datasets/pipeline/normalize';
import type { SegmentationSample } from '../../../datasets/types';
import { SegmentationConfusion } from '../../../datasets/voc/miou';
import { semanticFpnResnet18 } from '../../../heads/segmentation/semantic_fpn';

const FIXTURE = path.resolve(__dirname, '../../fixtures/coco_images');
/** COCO category id → class index (0 is background). */
const COCO_TO_CLASS: Record<number, number> = { 13: 1, 70: 2 };
/** Side of the inputs, pixels (not a multiple of 32 on purpose). */
const SIDE = 80;
/** Adam steps on the fixed batch and their learning rate. */
const STEPS = 60;
const LR = 1e-3;
const MIN_MIOU = 0.8;

/** The fixture's two images as 80x80 samples (normalized RGB, masks 0..2). */
async function fixtureSamples(): Promise<SegmentationSample<Float32Array>[]> {
  const coco = new Coco(JSON.parse(fs.readFileSync(path.join(FIXTURE, 'instances_val2017_subset.json'), 'utf8')) as CocoDatasetJson, 'fixture');
  const out: SegmentationSample<Float32Array>[] = [];
  for (const [id, img] of coco.imgs) {
    const anns = coco.imgToAnns.get(id) ?? [];
    expect(anns).to.have.length(1);
    const ann = anns[0];
    const [bx, by, bw, bh] = ann.bbox!;
    const side = Math.round(2 * Math.max(bw, bh));
    const left = Math.max(0, Math.min(img.width - side, Math.round(bx + bw / 2 - side / 2)));
    const top = Math.max(0, Math.min(img.height - side, Math.round(by + bh / 2 - side / 2)));
    const full = rleDecode(coco.annToRle(ann)); // column-major [W * H]
    const mask = new Uint8Array(SIDE * SIDE);
    // Nearest neighbour at pixel centres: output pixel (x, y) samples the window at floor((x + 0.5) * side / SIDE).
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const sx = left + Math.floor(((x + 0.5) * side) / SIDE);
        const sy = top + Math.floor(((y + 0.5) * side) / SIDE);
        mask[y * SIDE + x] = full[sx * img.height + sy] ? COCO_TO_CLASS[ann.category_id] : 0;
      }
    }
    const raw = await sharp(path.join(FIXTURE, 'val2017', img.file_name!))
      .extract({ left, top, width: side, height: side })
      .resize(SIDE, SIDE, { kernel: 'linear' })
      .removeAlpha()
      .raw()
      .toBuffer();
    const image = normalizeImage({ data: new Uint8Array(raw), height: SIDE, width: SIDE });
    out.push({ image, target: { mask }, meta: identityMeta(img.file_name!, SIDE, SIDE) });
  }
  return out;
}

describe('SemanticFpn learning on the segmentation fixture (slow: ResNet-18, 2 COCO photographs, 3 classes)', function () {
  this.timeout(900_000);
  it(`overfits both images to mIoU >= ${MIN_MIOU} (SegmentationConfusion on predict's class maps) in ${STEPS} Adam steps; tensor count flat`, async () => {
    const samples = await fixtureSamples();
    // Each window holds its object (about a quarter of it, the window being twice the box side): the stop sign in
    // one, the toilet in the other.
    samples.forEach((s) => expect(s.target.mask.filter((v) => v > 0).length, `${s.meta.file} foreground pixels`).to.be.greaterThan((SIDE * SIDE) / 20));
    expect(samples.map((s) => Math.max(...s.target.mask)).sort()).to.deep.equal([1, 2]);
    const model = semanticFpnResnet18({ numClasses: 3, fpnChannels: 64, convDims: 64, numGroups: 16, seed: 0, backbone: { normLayer: 'batch', frozenStages: 0, seed: 0 } });
    const batch = collateSegmentation(samples, { sizeDivisibility: model.sizeDivisibility });
    expect(batch.images.shape).to.deep.equal([2, 96, 96, 3]);
    const opt = tf.train.adam(LR);
    const params = model.trainableParameters().map(([, v]) => v);
    const losses: number[] = [];
    let count = -1;
    try {
      for (let step = 0; step < STEPS; step++) {
        const loss = opt.minimize(() => model.computeLosses({ images: batch.images, masks: batch.masks }, { training: true }).segmentation, true, params)!;
        losses.push(loss.dataSync()[0]);
        loss.dispose();
        if (step === 2) count = tf.memory().numTensors;
      }
      expect(tf.memory().numTensors, `tensor count after step ${STEPS} vs step 3`).to.equal(count);
      const confusion = new SegmentationConfusion({ numClasses: 3 });
      for (const s of samples) {
        const r = await model.predict({ scaled: [s.image], height: SIDE, width: SIDE, flip: false, slidingWindow: null });
        expect(r.mask.length).to.equal(SIDE * SIDE);
        confusion.update(s.target.mask, r.mask, s.meta.file);
      }
      const m = confusion.compute();
      const trace = `IoU ${JSON.stringify(m.IoU)}; losses ${losses.filter((_, i) => i % 5 === 0).map((l) => l.toFixed(3)).join(' ')}`;
      process.stderr.write(`      mIoU ${m.mIoU?.toFixed(3)} (IoU ${m.IoU.map((v) => v?.toFixed(3)).join(', ')}); loss ${losses[0].toFixed(3)} -> ${losses[losses.length - 1].toFixed(3)}\n`);
      expect(m.mIoU, trace).to.be.at.least(MIN_MIOU);
      expect(losses[losses.length - 1], trace).to.be.below(losses[0] / 4);
    } finally {
      opt.dispose();
      model.dispose();
      disposeSegmentationBatch(batch);
    }
  });
});
