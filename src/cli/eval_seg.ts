/**
 * `resvision eval-seg --gt DIR --pred DIR [--list FILE] [--config CONFIG] [--num-classes K] [--ignore-index V]
 * [--class-names FILE|a,b,c] [--json]`: Pascal VOC segmentation metrics (per-class IoU and accuracy, aAcc, mIoU, mAcc)
 * of a folder of predicted label PNGs against a folder of ground-truth label PNGs.
 */
import { Command, InvalidArgumentError } from 'commander';
import * as fs from 'fs';
import { formatSegmentationMetrics, GroundTruthValueError } from '../../datasets/voc/miou';
import type { evaluateSegmentationFolders as EvaluateFolders } from '../../datasets/voc/miou_folders';
import { VOC_SEG_CLASSES } from '../../datasets/voc/classes';
import { DEFAULT_MAX_LABEL_PNG_PIXELS } from '../../datasets/pipeline/png_limits';

function integerOption(name: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    const v = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || v < min || v > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}`);
    return v;
  };
}

/** What `eval-seg` scores with: K, the ignore value in the ground-truth files, the K class names. */
export interface EvalSegSettings {
  numClasses: number;
  ignoreIndex: number;
  classNames: string[];
}

/**
 * Class names from `--class-names`: a file with one name a line (blank lines skipped) when `value` names an existing
 * file, else a comma-separated list.
 * @throws Error naming the file or the option when no name is given or a name repeats.
 */
export function parseClassNames(value: string): string[] {
  const fromFile = fs.existsSync(value) && fs.statSync(value).isFile();
  const names = (fromFile ? fs.readFileSync(value, 'utf8').split(/\r?\n/) : value.split(',')).map((n) => n.trim()).filter((n) => n.length > 0);
  const what = fromFile ? `class-names file '${value}'` : `--class-names '${value}'`;
  if (names.length === 0) throw new Error(`${what} holds no class name`);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`${what}: class name '${dup}' appears twice`);
  return names;
}

/**
 * Resolve K, the ignore value and the class names of `eval-seg`: explicit options first, then the segmentation
 * config (`model.numClasses`, `data.ignoreIndex`, `data.classNames`), then K = the number of `--class-names`, then
 * VOC's K = 21 and 255; names default to VOC's when K = 21, else `class_<k>`.
 * @throws Error when the config is not a segmentation config, or the names' count differs from K (naming both).
 */
export function resolveEvalSegSettings(opts: { config?: string; numClasses?: number; ignoreIndex?: number; classNames?: string }): EvalSegSettings {
  let fromConfig: { numClasses: number; ignoreIndex: number; classNames: string[] | null } | undefined;
  if (opts.config) {
    const { loadConfig } = require('../config/load') as typeof import('../config/load');
    const cfg = loadConfig(opts.config);
    if (cfg.task !== 'segmentation') throw new Error(`--config ${opts.config}: a ${cfg.task} config; eval-seg needs a segmentation config`);
    fromConfig = { numClasses: cfg.model.numClasses, ignoreIndex: cfg.data.ignoreIndex, classNames: cfg.data.classNames };
  }
  const names = opts.classNames !== undefined ? parseClassNames(opts.classNames) : undefined;
  const k = opts.numClasses ?? fromConfig?.numClasses ?? names?.length ?? VOC_SEG_CLASSES.length;
  const ignoreIndex = opts.ignoreIndex ?? fromConfig?.ignoreIndex ?? 255;
  const chosen = names ?? (fromConfig && fromConfig.numClasses === k ? fromConfig.classNames : null);
  if (chosen && chosen.length !== k) {
    const source = names ? '--class-names' : `data.classNames of ${opts.config}`;
    throw new Error(`${source} gives ${chosen.length} names but the number of classes is ${k}`);
  }
  const classNames = chosen ?? (k === VOC_SEG_CLASSES.length ? [...VOC_SEG_CLASSES] : Array.from({ length: k }, (_, i) => `class_${i}`));
  return { numClasses: k, ignoreIndex, classNames };
}

/** Adds the `eval-seg` subcommand to `program`. */
export function registerEvalSeg(program: Command): void {
  program
    .command('eval-seg')
    .description(
      'semantic segmentation metrics from label PNGs (palette or grayscale: the samples are class indices): one ' +
        'confusion matrix over the dataset, per-class IoU and Acc, aAcc, mIoU, mAcc',
    )
    .requiredOption('--gt <dir>', 'ground-truth label PNGs, <dir>/<name>.png (VOC SegmentationClass, CamVid valannot)')
    .requiredOption('--pred <dir>', 'predicted label PNGs, <dir>/<name>.png, same size as the ground truth')
    .option(
      '--list <file>',
      "one image a line: a name (VOC ImageSets/Segmentation/val.txt) or an 'image mask' path pair (CamVid val.txt; " +
        'ground truth <gt>/<mask file name>, prediction <pred>/<image stem>.png); default: every PNG in --gt',
    )
    .option('--config <file>', 'segmentation config: number of classes, ignore index and class names from it')
    .option('--num-classes <k>', 'classes K, background included (default: the config, else 21)', integerOption('--num-classes', 1, 65535))
    .option('--ignore-index <v>', 'ground-truth value of ignored pixels (default: the config, else 255)', integerOption('--ignore-index', -1, 65535))
    .option('--class-names <file|list>', 'class names: a file with one name a line, or a comma-separated list (default: the config, VOC for K = 21)')
    .option('--json', 'print the metrics as JSON instead of the table', false)
    .option(
      '--max-mask-pixels <n>',
      'refuse label PNGs of more pixels, read from the PNG header before decoding (decompression bombs; default ' +
        `${DEFAULT_MAX_LABEL_PNG_PIXELS}, twice PIL's MAX_IMAGE_PIXELS)`,
      integerOption('--max-mask-pixels', 1, Number.MAX_SAFE_INTEGER),
    )
    .action(
      async (opts: {
        gt: string; pred: string; list?: string; config?: string; numClasses?: number; ignoreIndex?: number; classNames?: string;
        json: boolean; maxMaskPixels?: number;
      }) => {
        const s = resolveEvalSegSettings(opts);
        const { evaluateSegmentationFolders } = require('../../datasets/voc/miou_folders') as typeof import('../../datasets/voc/miou_folders');
        let result: Awaited<ReturnType<typeof EvaluateFolders>>;
        try {
          result = await evaluateSegmentationFolders({
            gtDir: opts.gt,
            predDir: opts.pred,
            listFile: opts.list,
            numClasses: s.numClasses,
            ignoreIndex: s.ignoreIndex,
            maxPixels: opts.maxMaskPixels,
          });
        } catch (e) {
          if (e instanceof GroundTruthValueError) {
            throw new Error(
              `${e.message}: the dataset's labels do not match K = ${s.numClasses} / ignore ${s.ignoreIndex}; pass --num-classes and ` +
                '--ignore-index as the dataset defines them (CamVid: --num-classes 11 --ignore-index 11), or --config with its config',
            );
          }
          throw e;
        }
        const { metrics, ignoredPixels, maxGroundTruthClass: top } = result;
        // A void value inside 0..K-1 would be scored as a class: typical of CamVid (void 11) read with VOC's K = 21.
        if (ignoredPixels === 0 && top >= 0 && top < s.numClasses - 1) {
          process.stderr.write(
            `warning: no ground-truth pixel has the ignore index ${s.ignoreIndex} and the values seen stop at ${top} (K = ${s.numClasses}): ` +
              `if ${top} marks void, the numbers are wrong; pass --num-classes ${top} --ignore-index ${top}, or --config\n`,
          );
        }
        process.stdout.write(opts.json ? `${JSON.stringify({ ...metrics, classNames: s.classNames })}\n` : `${formatSegmentationMetrics(metrics, s.classNames)}\n`);
      },
    );
}
