/**
 * `resvision quickstart` (`npm run quickstart` in a clone): the main job end to end on the data bundled in the repository, in a few minutes on a CPU.
 *
 * 1. Train a ResNet-18 RetinaNet from scratch on the 64 training images of `examples/bccd` (blood-cell photographs,
 *    Pascal VOC layout) with `configs/detection/retinanet_r18_fpn_bccd_quickstart.json`, evaluating COCO mAP on the
 *    24 test images during training and at the end. The config's `data.classes` (white blood cells only) is a subset
 *    of the sample's three classes; `data.unknownClasses: "skip"` leaves the other objects out.
 * 2. Draw the trained detector's boxes on a test image.
 * 3. Draw the training curves from the run's `metrics.jsonl`.
 * 4. Print pycocotools' 12 summary lines, the per-class AP and where the checkpoint, the picture and the curve are.
 *
 * The same steps by hand are `resvision train`, `resvision predict` and `resvision plot-curves` (printed at the
 * end). Running it again after it finished evaluates the finished run again instead of training anew (delete the
 * output folder to train again); after an interruption (Ctrl-C) it resumes the run.
 *
 * Options: `--output-dir DIR` (default `runs/quickstart`), `--max-iter N` (a shorter run), `--weights FILE` (ImageNet
 * ResNet-18 weights, torchvision names, to start from), and the global `--backend NAME`. The config and the example
 * data ship with the package, so the command runs from an installed resvision too.
 */
import * as fs from 'fs';
import * as path from 'path';
import { formatDetectionMetrics } from '../../datasets/detection_evaluator';
import { plotCurves } from '../cli/plot_curves';
import { loadConfig } from '../config/load';
import type { DetectionConfig } from '../config/types';
import { BackendChoice, selectBackend } from '../engine/backend';
import { packageRoot } from '../engine/package_info';
import { LAST_CHECKPOINT_FILE } from '../engine/trainer';
import { detectionTask, loadDetectorCheckpoint, predictDetection, trainDetection } from './detection';

/** The package root: the config and the example data are resolved against it (a clone or an installed package). */
const REPO = packageRoot();
/** The quickstart config, relative to the repository root. */
export const QUICKSTART_CONFIG = 'configs/detection/retinanet_r18_fpn_bccd_quickstart.json';
/** The test image the detections are drawn on: 11 RBCs, 1 WBC and 1 platelet in its annotation. */
export const QUICKSTART_IMAGE = 'examples/bccd/JPEGImages/BloodImage_00062.jpg';

/** Options of {@link runQuickstart}. */
export interface QuickstartOptions {
  /** Output folder (default: the config's `train.outputDir`, `runs/quickstart`). */
  outputDir?: string;
  /** Override `schedule.maxIter` (a shorter run; the learning-rate milestone scales with it). */
  maxIter?: number;
  /** Initial weights (`model.weights`): a torchvision/timm ResNet-18 state dict, `.pth` or `.safetensors`. */
  weights?: string;
  /** Backend (default `auto`) and, for wasm, its threads (default: the cores available). */
  backend?: BackendChoice;
  threads?: number;
  /** No progress bars. */
  quiet?: boolean;
  /** Where the text goes (default: stdout). */
  write?: (text: string) => void;
}

/** What {@link runQuickstart} produced. */
export interface QuickstartResult {
  /** Whether this call trained (false: it found a finished run and evaluated it). */
  trained: boolean;
  status: 'completed' | 'interrupted';
  checkpoint?: string;
  /** The evaluation report (12 COCO lines, per-class AP, VOC mAP). */
  report?: string;
  picture?: string;
  curve?: string;
  /** Wall time of the whole call, minutes. */
  minutes: number;
}

/** The quickstart config with the output folder, the iteration count and the paths resolved against the repository. */
export function quickstartConfig(opts: Pick<QuickstartOptions, 'outputDir' | 'maxIter' | 'weights'> = {}): DetectionConfig {
  const cfg = loadConfig(path.join(REPO, QUICKSTART_CONFIG));
  if (cfg.task !== 'detection') throw new Error(`${QUICKSTART_CONFIG}: expected a detection config, got task ${cfg.task}`);
  cfg.data.root = path.resolve(REPO, cfg.data.root);
  cfg.train.outputDir = path.resolve(opts.outputDir ?? path.join(REPO, cfg.train.outputDir));
  if (opts.weights !== undefined) {
    if (!fs.existsSync(opts.weights)) throw new Error(`--weights ${opts.weights}: file not found; give a torchvision ResNet-18 state dict (.pth or .safetensors)`);
    cfg.model.weights = path.resolve(opts.weights);
  }
  if (opts.maxIter !== undefined) {
    if (!(Number.isInteger(opts.maxIter) && opts.maxIter > 0)) throw new Error(`--max-iter must be a positive integer, got ${opts.maxIter}`);
    cfg.schedule.maxIter = opts.maxIter;
    cfg.train.evalEvery = Math.min(cfg.train.evalEvery, opts.maxIter);
    cfg.train.checkpointEvery = opts.maxIter;
  }
  return cfg;
}

/** The checkpoint a finished run of `cfg` ends with (`model_<maxIter, 7 digits>.safetensors`). */
export function finalCheckpoint(cfg: DetectionConfig): string {
  return path.join(cfg.train.outputDir, `model_${String(cfg.schedule.maxIter).padStart(7, '0')}.safetensors`);
}

/** `p` relative to the current folder when it is inside it (shorter to read and to paste), else absolute. */
function shown(p: string): string {
  const r = path.relative(process.cwd(), p);
  return r && !r.startsWith('..') && !path.isAbsolute(r) ? r : p;
}

/**
 * Run the quickstart: train (or resume, or find the finished run), draw detections, draw the curves, report.
 * @throws Error for a missing data folder or unreadable files (naming them), or a non-finite loss.
 */
export async function runQuickstart(opts: QuickstartOptions = {}): Promise<QuickstartResult> {
  const t0 = performance.now();
  const write = opts.write ?? ((s: string) => void process.stdout.write(s));
  const cfg = quickstartConfig(opts);
  const out = cfg.train.outputDir;
  const ckpt = finalCheckpoint(cfg);
  const info = await selectBackend(opts.backend ?? 'auto', { threads: opts.threads });
  write(`backend: ${info.name} (${info.packageName} ${info.version}, ${info.threads} thread${info.threads === 1 ? '' : 's'})\n`);

  let trained = false;
  let report: string;
  if (fs.existsSync(ckpt)) {
    write(`${shown(out)} already holds the finished run: evaluating ${shown(ckpt)} (delete ${shown(out)} to train again)\n`);
    report = await detectionTask.evaluate(cfg, { checkpoint: ckpt }, { quiet: true });
  } else {
    const resume = fs.existsSync(path.join(out, LAST_CHECKPOINT_FILE));
    write(
      `${resume ? 'resuming' : 'training'} a ResNet-18 RetinaNet ${cfg.model.weights ? `from ${shown(cfg.model.weights)}` : 'from scratch'} on ${shown(cfg.data.root)} ` +
        `(${cfg.data.trainSplit} split, classes ${cfg.data.classes?.join(', ')}; objects of other classes skipped) for ${cfg.schedule.maxIter} iterations of ` +
        `${cfg.train.batchSize} images, evaluating COCO mAP on the ${cfg.data.valSplit} split every ${cfg.train.evalEvery}; ` +
        `output ${shown(out)}\n`,
    );
    const r = await trainDetection(cfg, { resume, quiet: opts.quiet });
    trained = true;
    if (r.result.status === 'interrupted') {
      write(`interrupted at iteration ${r.result.nextIteration}; checkpoint ${r.result.lastCheckpoint ?? '(none)'}. Run the same command again to resume.\n`);
      return { trained, status: 'interrupted', checkpoint: r.result.lastCheckpoint, minutes: (performance.now() - t0) / 60000 };
    }
    if (!r.metrics) throw new Error(`the run in ${out} ended without an evaluation`);
    report = formatDetectionMetrics(r.metrics, cfg.data.valSplit);
  }

  const pictureDir = path.join(out, 'predictions');
  const { model, classes, categoryIds } = await loadDetectorCheckpoint(cfg, ckpt);
  let picture: string;
  let detected: string;
  try {
    const [p] = await predictDetection(model, cfg, classes, categoryIds, [path.join(REPO, QUICKSTART_IMAGE)], pictureDir);
    picture = p.output!;
    const counts = classes.map((c) => `${p.detections.filter((d) => d.className === c).length} ${c}`);
    detected = `${counts.join(', ')} at score >= ${cfg.predict.scoreThresh}`;
  } finally {
    model.dispose();
  }
  const curve = (await plotCurves(out, path.join(out, 'curve.png'), { metrics: ['AP', 'AP50', 'vocMAP50'] })).out;

  const minutes = (performance.now() - t0) / 60000;
  const cfgArg = shown(path.join(REPO, QUICKSTART_CONFIG));
  // The engine options given to the quickstart, so that the commands below run the same way.
  const engine = `${opts.backend && opts.backend !== 'auto' ? ` --backend ${opts.backend}` : ''}${opts.threads !== undefined ? ` --threads ${opts.threads}` : ''}`;
  write(
    [
      '',
      report,
      '',
      `checkpoint: ${shown(ckpt)}`,
      `picture:    ${shown(picture)} (${detected}; all boxes in ${shown(path.join(pictureDir, 'detections.json'))})`,
      `curve:      ${shown(curve)} (losses and AP against the iteration, from ${shown(path.join(out, 'metrics.jsonl'))})`,
      `time:       ${minutes.toFixed(1)} min`,
      '',
      'The same by hand:',
      `  npx resvision train ${cfgArg} --data ${shown(cfg.data.root)} --output-dir ${shown(out)}${opts.maxIter !== undefined ? ` --max-iter ${opts.maxIter}` : ''}${engine}`,
      `  npx resvision predict ${cfgArg} --checkpoint ${shown(ckpt)} ${shown(path.join(REPO, QUICKSTART_IMAGE))} --out ${shown(pictureDir)}${engine}`,
      `  npx resvision plot-curves ${shown(out)} --out ${shown(curve)}`,
      '',
    ].join('\n'),
  );
  return { trained, status: 'completed', checkpoint: ckpt, report, picture, curve, minutes };
}
