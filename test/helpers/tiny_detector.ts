/** A tiny detection checkpoint for inference tests, trained in about a minute by the CLI. */
import * as fs from 'fs';
import * as path from 'path';
import { retinaNetAnchorSizes } from '../../heads/detection/anchors';
import { runCli } from './cli';

const REPO = path.resolve(__dirname, '../..');
const BCCD = path.join(REPO, 'test/fixtures/bccd/BCCD');
/** The three BCCD fixture images (640x480 JPEG), in the split's order. */
export const TINY_DETECTOR_IDS = ['BloodImage_00147', 'BloodImage_00249', 'BloodImage_00338'];

/** What {@link trainTinyDetector} wrote. */
export interface TinyDetector {
  /** The run config (`resvision predict CFG ...`). */
  cfgFile: string;
  /** The checkpoint after 2 iterations (`model_0000002.safetensors`). */
  ckpt: string;
  /** The JPEG files of {@link TINY_DETECTOR_IDS}, in that order. */
  images: string[];
}

/**
 * `resvision train` for 2 iterations of a ResNet-18 RetinaNet (FPN width 32, anchors a quarter of RetinaNet's) on
 * the three BCCD fixture images (3 classes) at shorter side 64, in `dir` (the data is copied there). The score
 * thresholds are near 0 (postprocess 0.001, predict 0.002) so that the untrained model's many low scores fill each
 * image's 100 detections (`detectionsPerImage`) with boxes to compare.
 * @param edit changes a test makes to the config before training (thresholds, detections per image).
 */
export async function trainTinyDetector(dir: string, edit: (cfg: Record<string, any>) => void = () => {}): Promise<TinyDetector> {
  const root = path.join(dir, 'BCCD');
  fs.mkdirSync(path.join(root, 'ImageSets', 'Main'), { recursive: true });
  for (const sub of ['Annotations', 'JPEGImages']) fs.cpSync(path.join(BCCD, sub), path.join(root, sub), { recursive: true });
  fs.writeFileSync(path.join(root, 'ImageSets', 'Main', 'all.txt'), `${TINY_DETECTOR_IDS.join('\n')}\n`);
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
  edit(cfg);
  const cfgFile = path.join(dir, 'cfg.json');
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  await runCli(['train', cfgFile, '--quiet', '--no-eval']);
  return { cfgFile, ckpt: path.join(dir, 'run', 'model_0000002.safetensors'), images: TINY_DETECTOR_IDS.map((id) => path.join(root, 'JPEGImages', `${id}.jpg`)) };
}
