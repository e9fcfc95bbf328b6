/** A tiny classification checkpoint for inference tests: colour-patch image folders and one training step by the CLI. */
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { seededFloats } from './tensors';
import { runCli, lastCheckpoint } from './cli';

const REPO = path.resolve(__dirname, '../..');

/** What {@link trainTinyClassifier} wrote. */
export interface TinyClassifier {
  /** The run config (`resvision predict CFG ...`). */
  cfgFile: string;
  /** The checkpoint after 1 iteration. */
  ckpt: string;
}

/**
 * Image folders `dir/data/{train,val}/<class>/<class>_<i>.png` (32x32, the class's RGB plus seeded noise of +-60),
 * `perSplit.train` / `perSplit.val` images per class, then `resvision train` for one iteration of the hymenoptera
 * ResNet-18 config at 32 px in `dir/run`.
 * @param colours class name -> RGB, in folder order.
 */
export async function trainTinyClassifier(
  dir: string,
  colours: Record<string, [number, number, number]>,
  perSplit: { train: number; val: number },
): Promise<TinyClassifier> {
  let seed = 1;
  for (const split of ['train', 'val'] as const) {
    for (const [cls, rgb] of Object.entries(colours)) {
      fs.mkdirSync(path.join(dir, 'data', split, cls), { recursive: true });
      for (let i = 0; i < perSplit[split]; i++) {
        const noise = seededFloats(32 * 32 * 3, seed++);
        const px = Buffer.from(Array.from(noise, (v, j) => Math.max(0, Math.min(255, rgb[j % 3] + Math.round(v * 60)))));
        await sharp(px, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(path.join(dir, 'data', split, cls, `${cls}_${i}.png`));
      }
    }
  }
  const cfg = JSON.parse(fs.readFileSync(path.join(REPO, 'configs/classification/resnet18_hymenoptera.json'), 'utf8'));
  cfg.data = { root: path.join(dir, 'data'), trainSplit: 'train', valSplit: 'val', trainCropSize: 32, evalResizeSize: 32, evalCropSize: 32 };
  cfg.schedule = { maxIter: 1, main: { kind: 'cosine' } };
  cfg.train = { seed: 1, batchSize: 2, numWorkers: 1, logEvery: 1, evalEvery: 0, checkpointEvery: 1, outputDir: path.join(dir, 'run') };
  const cfgFile = path.join(dir, 'cfg.json');
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  await runCli(['train', cfgFile, '--quiet', '--no-eval']);
  return { cfgFile, ckpt: lastCheckpoint(path.join(dir, 'run')) };
}
