/**
 * Faster R-CNN learns real data: a ResNet-18 FPN Faster R-CNN overfits the WBCs of the three BCCD fixture images
 * (MIT, blood-cell photographs; the set RetinaNet's learning test in test/tasks/detection.test.ts uses) and reaches
 * COCO AP50 >= 0.9 on them, scored by the project's COCOeval through `DetectionEvaluator` on detections mapped back
 * to the original 640x480 pixels.
 *
 * The data path is the library's: `loadDetectionSplit` (VOC layout, other classes skipped), the detection eval
 * transform (shorter side 96: 128x96 inputs, WBCs about 30-50 px), `collateDetection` padded to the model's
 * `sizeDivisibility`, `detectionsToOriginal`. The one batch of three images is fixed (no flip), so the run is a
 * deterministic overfit sized for a 2-core CPU: anchor sizes halved (16..256 on P2..P6) for the small input, fewer
 * proposals and samples than torchvision (training top-n 1000/500 instead of 2000/2000, 128 sampled anchors instead
 * of 256, 128 RoIs per image instead of 512; at most a few hundred anchors overlap the four WBCs anyway), FPN and box
 * head narrowed to 64 and 256. No pretrained weights, so BatchNorm is trainable (FrozenBatchNorm2d with initial
 * statistics is an identity and the features of an untrained ResNet then explode).
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { collateDetection, disposeDetectionBatch } from '../../../datasets/collate_detection';
import { DetectionEvaluator } from '../../../datasets/detection_evaluator';
import { loadDetectionSplit } from '../../../datasets/detection_split';
import { detectionEvalTransform } from '../../../datasets/pipeline/detection_presets';
import { fasterrcnnResnet18Fpn } from '../../../heads/detection/faster_rcnn';
import { detectionsToOriginal } from '../../../heads/detection/postprocess';
import { SeedSequence } from '../../../src/common/seed';
import type { VocDetectionDataConfig } from '../../../src/config/types';

const BCCD = path.resolve(__dirname, '../../fixtures/bccd/BCCD');
/** Adam steps on the fixed batch and their learning rate. */
const STEPS = 60;
const LR = 1e-3;
/** AP50 (fraction) required. */
const MIN_AP50 = 0.9;

describe('FasterRCNN learning on BCCD (slow: ResNet-18 FPN, 3 fixture images, WBC only)', function () {
  this.timeout(900_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-frcnn-bccd-'));
    fs.mkdirSync(path.join(dir, 'ImageSets', 'Main'), { recursive: true });
    for (const sub of ['Annotations', 'JPEGImages']) fs.symlinkSync(path.join(BCCD, sub), path.join(dir, sub));
    fs.writeFileSync(path.join(dir, 'ImageSets', 'Main', 'all.txt'), 'BloodImage_00147\nBloodImage_00249\nBloodImage_00338\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`reaches COCO AP50 >= ${MIN_AP50} on the 3 images after ${STEPS} Adam steps (COCOeval through DetectionEvaluator); tensor count flat`, async () => {
    const data: VocDetectionDataConfig = {
      format: 'voc', root: dir, trainSplit: 'all', valSplit: 'all', annotationsDir: 'Annotations', imagesDir: 'JPEGImages',
      imageExt: '.jpg', use07Metric: false, classes: ['WBC'], unknownClasses: 'skip', trainShortEdge: [96], trainMaxSize: 1000,
      evalShortEdge: 96, evalMaxSize: 1000, flipProbability: 0, filterEmpty: false,
    };
    const split = await loadDetectionSplit(data, 'all', ['WBC'], 'eval');
    // WBC objects: 1 + 2 + 1 in the three XMLs.
    expect(split.records.map((r) => r.target.labels.length)).to.deep.equal([1, 2, 1]);
    const transform = detectionEvalTransform({ shortEdge: 96, maxSize: 1000 });
    const samples = await Promise.all(split.records.map((r) => transform(r, new SeedSequence(0))));
    const model = fasterrcnnResnet18Fpn({
      numClasses: 1,
      fpnChannels: 64,
      anchorSizes: [[16], [32], [64], [128], [256]],
      rpn: { preNmsTopNTrain: 1000, postNmsTopNTrain: 500, preNmsTopNTest: 500, postNmsTopNTest: 300, batchSizePerImage: 128 },
      roiHeads: { representationSize: 256, batchSizePerImage: 128 },
      seed: 0,
      backbone: { normLayer: 'batch', frozenStages: 0, seed: 0 },
    });
    const batch = collateDetection(samples, { sizeDivisibility: model.sizeDivisibility });
    const imageSizes = batch.metas.map((m) => ({ height: m.validRegionXyxy[3] - m.validRegionXyxy[1], width: m.validRegionXyxy[2] - m.validRegionXyxy[0] }));
    const opt = tf.train.adam(LR);
    const params = model.trainableParameters().map(([, v]) => v);
    const losses: number[] = [];
    let count = -1;
    try {
      for (let step = 0; step < STEPS; step++) {
        const loss = opt.minimize(
          () => tf.addN(Object.values(model.computeLosses({ images: batch.images, targets: batch.targets, imageSizes }, { training: true }))) as tf.Scalar,
          true,
          params,
        )!;
        losses.push(loss.dataSync()[0]);
        loss.dispose();
        if (step === 2) count = tf.memory().numTensors;
      }
      expect(tf.memory().numTensors, `tensor count after step ${STEPS} vs step 3`).to.equal(count);
      const dets = await model.predict({ images: batch.images, imageSizes });
      const evaluator = new DetectionEvaluator(split, 'all');
      dets.forEach((d, i) => evaluator.update(i, detectionsToOriginal(d, batch.metas[i])));
      const m = evaluator.compute();
      const trace = `losses ${losses.filter((_, i) => i % 5 === 0).map((l) => l.toFixed(3)).join(' ')}\n${m.lines.join('\n')}`;
      process.stderr.write(`      COCO AP50 ${m.stats[1].toFixed(3)}, AP ${m.stats[0].toFixed(3)}; loss ${losses[0].toFixed(3)} -> ${losses[losses.length - 1].toFixed(3)}\n`);
      expect(m.stats[1], trace).to.be.at.least(MIN_AP50);
      expect(losses[losses.length - 1], trace).to.be.below(losses[0] / 3);
    } finally {
      opt.dispose();
      model.dispose();
      disposeDetectionBatch(batch);
    }
  });
});
