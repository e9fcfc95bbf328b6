/**
 * `resvision convert voc2coco VOCROOT --split trainval --out FILE.json`: Pascal VOC detection → COCO instances JSON
 * (see `datasets/voc/convert_voc2coco.ts` for the box and id conventions). The file is written atomically.
 */
import { Command, Option } from 'commander';
import type { VocDetectionOptions } from '../../datasets/voc/detection';

/** Parse `--classes`: `voc`, `found`, or a comma-separated list of names. */
export function parseClassesOption(v: string): VocDetectionOptions['classes'] {
  if (v === 'voc' || v === 'found') return v;
  const names = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new Error(`--classes: expected voc, found or a comma-separated list, got '${v}'`);
  return names;
}

/** Adds the `convert` command group (`convert voc2coco`) to `program`. */
export function registerConvert(program: Command): void {
  const convert = program.command('convert').description('convert dataset annotations between formats');
  convert
    .command('voc2coco')
    .description('Pascal VOC detection XMLs → COCO instances JSON (ids from 1, 0-based xywh boxes, iscrowd 0)')
    .argument('<root>', 'VOC root (with Annotations/, JPEGImages/, ImageSets/Main/)')
    .requiredOption('--out <file>', 'output COCO JSON')
    .option('--split <name>', 'ImageSets/Main/<name>.txt (default: every XML of the annotation folder)')
    .option('--split-file <file>', 'explicit id list file (overrides --split)')
    .option('--annotations-dir <dir>', 'annotation folder under the root', 'Annotations')
    .option('--images-dir <dir>', 'image folder under the root', 'JPEGImages')
    .option('--image-ext <ext>', 'image extension', '.jpg')
    // 'found' by default, as check-data: a dataset with its own classes converts without naming them first.
    .option('--classes <list>', "category ids 1..K: 'found' (names in the XMLs, sorted), 'voc' (the 20 classes) or a comma-separated list", 'found')
    .option('--drop-difficult', 'leave difficult objects out', false)
    .addOption(new Option('--degenerate-boxes <mode>', 'boxes with xmax <= xmin or ymax <= ymin').choices(['keep', 'drop', 'error']).default('keep'))
    .action(async (root: string, o: {
      out: string; split?: string; splitFile?: string; annotationsDir: string; imagesDir: string; imageExt: string;
      classes: string; dropDifficult: boolean; degenerateBoxes: 'keep' | 'drop' | 'error';
    }) => {
      const { convertVocToCoco } = require('../../datasets/voc/convert_voc2coco') as typeof import('../../datasets/voc/convert_voc2coco');
      const counts = await convertVocToCoco(root, o.out, {
        split: o.split,
        splitFile: o.splitFile,
        annotationsDir: o.annotationsDir,
        imagesDir: o.imagesDir,
        imageExt: o.imageExt,
        classes: parseClassesOption(o.classes),
        dropDifficult: o.dropDifficult,
        degenerateBoxes: o.degenerateBoxes,
      });
      process.stdout.write(`wrote ${o.out}: ${counts.images} images, ${counts.annotations} annotations, ${counts.categories} categories\n`);
    });
}
