/**
 * `resvision check-data ROOT [--format coco|voc|voc-seg] [options]`: validate a dataset and print a summary
 * (`datasets/check_data.ts`); without `--format` the format is told from the path (`detectCheckFormat`). Exit code 1
 * when an error is found.
 */
import { Command, Option } from 'commander';
import type { CheckFormat } from '../../datasets/check_data';
import { parseClassesOption } from './convert';

/** Options as parsed from the command line. */
interface CheckDataCliOptions {
  format?: CheckFormat;
  annotations?: string;
  imagesDir?: string;
  annotationsDir?: string;
  masksDir?: string;
  split?: string;
  splitFile?: string;
  imageExt?: string;
  classes?: string;
  ignoreIndex?: string;
  numClasses?: string;
  maxIssues: string;
}

function int(what: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what}: expected an integer >= 0, got '${v}'`);
  return n;
}

/**
 * Run the checker with CLI options and return the printout and the exit code (0 clean or warnings only, 1 errors).
 * Exported for tests.
 */
export async function runCheckData(root: string, o: CheckDataCliOptions): Promise<{ text: string; exitCode: number }> {
  const ignoreIndex = int('--ignore-index', o.ignoreIndex);
  const numClasses = int('--num-classes', o.numClasses);
  const { checkData, detectCheckFormat, formatCheckReport } = require('../../datasets/check_data') as typeof import('../../datasets/check_data');
  let format = o.format;
  if (format === undefined) {
    const detected = detectCheckFormat(root);
    process.stderr.write(`check-data: ${detected.reason} (--format ${detected.format})\n`);
    format = detected.format;
  }
  const report = await checkData(root, {
    format,
    annotationFile: o.annotations,
    imagesDir: o.imagesDir,
    voc: {
      annotationsDir: o.annotationsDir, imagesDir: o.imagesDir, imageExt: o.imageExt, split: o.split, splitFile: o.splitFile,
      classes: o.classes ? parseClassesOption(o.classes) : 'found',
    },
    seg: {
      imagesDir: o.imagesDir, masksDir: o.masksDir, imageExt: o.imageExt, split: o.split, splitFile: o.splitFile,
      classes: numClasses !== undefined ? Array.from({ length: numClasses }, (_, i) => `class ${i}`) : undefined,
      mask: { ...(ignoreIndex !== undefined ? { ignoreIndex } : {}), ...(numClasses !== undefined ? { numClasses } : {}) },
    },
  });
  return { text: formatCheckReport(report, int('--max-issues', o.maxIssues)), exitCode: report.errors > 0 ? 1 : 0 };
}

/** Adds the `check-data` subcommand to `program`. */
export function registerCheckData(program: Command): void {
  program
    .command('check-data')
    .description('validate a dataset (missing files, bad boxes, unknown classes, duplicate ids, mask sizes) and print a summary')
    .argument('<root>', 'COCO: the instances JSON; VOC: the dataset root')
    .addOption(new Option('--format <format>', 'dataset format (default: from the path; see the first line printed)').choices(['coco', 'voc', 'voc-seg']))
    .option('--annotations <file>', 'COCO instances JSON (default: <root>)')
    .option('--images-dir <dir>', 'image folder (COCO: default ROOT/<split>/ for ROOT/annotations/instances_<split>.json, else the JSON folder; VOC: JPEGImages)')
    .option('--annotations-dir <dir>', 'VOC annotation folder (default Annotations)')
    .option('--masks-dir <dir>', 'VOC segmentation mask folder (default SegmentationClass)')
    .option('--split <name>', 'ImageSets/{Main,Segmentation}/<name>.txt (default: every file of the folder)')
    .option('--split-file <file>', 'explicit list file (ids, or image/mask path pairs)')
    .option('--image-ext <ext>', 'image extension (default .jpg)')
    .option('--classes <list>', "VOC: 'voc', 'found' (default) or a comma-separated list")
    .option('--ignore-index <n>', 'segmentation: mask value meaning ignore (default 255; CamVid 11)')
    .option('--num-classes <n>', 'segmentation: K, values >= K other than ignore are errors (default 21)')
    .option('--max-issues <n>', 'issues printed', '50')
    .action(async (root: string, o: CheckDataCliOptions) => {
      const { text, exitCode } = await runCheckData(root, o);
      process.stdout.write(`${text}\n`);
      if (exitCode !== 0) process.exitCode = exitCode;
    });
}
