/**
 * `resvision eval-seg --gt DIR --pred DIR [--list FILE] [--num-classes 21] [--ignore-index 255] [--json]`:
 * Pascal VOC segmentation metrics (per-class IoU and accuracy, aAcc, mIoU, mAcc) of a folder of predicted label
 * PNGs against a folder of ground-truth label PNGs.
 */
import { Command, InvalidArgumentError } from 'commander';
import { evaluateSegmentationFolders, formatSegmentationMetrics } from '../../datasets/voc/miou';

function integerOption(name: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    const v = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || v < min || v > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}`);
    return v;
  };
}

/** Adds the `eval-seg` subcommand to `program`. */
export function registerEvalSeg(program: Command): void {
  program
    .command('eval-seg')
    .description(
      'semantic segmentation metrics from label PNGs (palette or grayscale: the samples are class indices): one ' +
        'confusion matrix over the dataset, per-class IoU and Acc, aAcc, mIoU, mAcc',
    )
    .requiredOption('--gt <dir>', 'ground-truth label PNGs, <dir>/<name>.png (VOC SegmentationClass)')
    .requiredOption('--pred <dir>', 'predicted label PNGs, <dir>/<name>.png, same size as the ground truth')
    .option('--list <file>', 'image names, one a line (VOC ImageSets/Segmentation/val.txt); default: every PNG in --gt')
    .option('--num-classes <k>', 'classes K, background included', integerOption('--num-classes', 1, 65535), 21)
    .option('--ignore-index <v>', 'ground-truth value of ignored pixels', integerOption('--ignore-index', -1, 65535), 255)
    .option('--json', 'print the metrics as JSON instead of the table', false)
    .action(async (opts: { gt: string; pred: string; list?: string; numClasses: number; ignoreIndex: number; json: boolean }) => {
      const { metrics } = await evaluateSegmentationFolders({
        gtDir: opts.gt,
        predDir: opts.pred,
        listFile: opts.list,
        numClasses: opts.numClasses,
        ignoreIndex: opts.ignoreIndex,
      });
      process.stdout.write(opts.json ? `${JSON.stringify(metrics)}\n` : `${formatSegmentationMetrics(metrics)}\n`);
    });
}
