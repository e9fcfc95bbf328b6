/**
 * Detection splits in the run's label space: COCO-format or Pascal VOC data listed as records (boxes xyxy in
 * original pixels, labels 0..K-1 in the run's class order) with the split's COCO ground truth (VOC data converted
 * with `vocToCoco`) and, for VOC data, the VOC ground truth, so that one evaluator scores both COCO mAP and VOC AP.
 *
 * Reference: torchvision `references/detection/coco_utils.py` (`get_coco`, `convert_to_coco_api`), detectron2
 * `data/datasets/pascal_voc.py` (`load_voc_instances`).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { DetectionConfig } from '../src/config/types';
import { Coco } from './coco/coco';
import { CocoDetection } from './coco/dataset';
import { formatIssue, type DatasetIssue } from './dataset_issues';
import type { DetectionRecord } from './pipeline/detection_presets';
import type { DetectionTarget } from './types';
import { vocToCoco } from './voc/convert_voc2coco';
import { scanVocDetection, vocGroundTruth, type VocDetectionOptions } from './voc/detection';
import type { VocImageGt } from './voc/voc_ap';

/** The `data` section of a detection config (COCO or VOC layout). */
export type DetectionDataConfig = DetectionConfig['data'];

/** One split of the config's data, listed in the run's label space, with its evaluation ground truth. */
export interface DetectionSplit {
  /** `train` or `eval`: training splits drop crowd boxes (and empty images with `data.filterEmpty`). */
  purpose: 'train' | 'eval';
  /** Records, boxes xyxy original pixels, labels 0..K-1 in `classes` order. */
  records: DetectionRecord[];
  /** K class names, label order. */
  classes: string[];
  /** COCO ground truth of the split (VOC data: converted with `vocToCoco`); records[i] is image `cocoImageIds[i]`. */
  gt: Coco;
  cocoImageIds: number[];
  /** Category id in `gt` of each label; -1 when the split's categories lack that class (its detections are not scored). */
  categoryIds: number[];
  /** VOC ground truth (inclusive coordinates) and AP variant, for VOC data. */
  voc?: { gt: VocImageGt[]; imageIds: string[]; use07Metric: boolean };
  /** Problems fixed while listing (boxes clipped or dropped), one line each. */
  issues: DatasetIssue[];
}

function withLabels(t: DetectionTarget, labels: Int32Array): DetectionTarget {
  return { ...t, labels };
}

/**
 * List split `split` of a detection config's `data`.
 * - COCO: `<root>/<annotationsDir>/instances_<split>.json`, images in `<root>/<imagesDir ?? split>/`. Labels follow
 *   `classes` by category name (default: the file's categories in increasing id order).
 * - VOC: `<root>/ImageSets/Main/<split>.txt`, `<annotationsDir>/<id>.xml`, `<imagesDir>/<id><imageExt>`. Labels
 *   follow `classes` (default: the names found in the split, sorted).
 * Boxes of zero extent are dropped and boxes reaching outside the image clipped, each reported in `issues`.
 * @param classes the run's class names, or null to take them from this split.
 * @throws Error naming the file and record for an object whose class is not in `classes`, a missing file, or an
 *   annotation error of the adapter.
 */
export async function loadDetectionSplit(
  d: DetectionDataConfig,
  split: string,
  classes: readonly string[] | null,
  purpose: 'train' | 'eval',
): Promise<DetectionSplit> {
  if (!fs.existsSync(d.root)) {
    throw new Error(`data root not found: ${d.root} (${path.resolve(d.root)}; relative paths start at the current folder): pass --data ROOT or set data.root in the config`);
  }
  switch (d.format) {
    case 'coco': {
      const annFile = path.join(d.root, d.annotationsDir, `instances_${split}.json`);
      const imageDir = path.join(d.root, d.imagesDir ?? split);
      if (!fs.existsSync(annFile)) throw new Error(`COCO annotations not found: ${annFile} (data.annotationsDir + instances_<split>.json)`);
      const ds = CocoDetection.fromFile(annFile, imageDir, {
        dropCrowd: purpose === 'train',
        filterEmpty: purpose === 'train' && d.filterEmpty,
        annotationIdProblems: 'warn', // evaluated as pycocotools does, with one warning line
      });
      const names = classes ? [...classes] : ds.classes;
      const runLabel = new Map(names.map((n, i) => [n, i] as const));
      const fileToRun = ds.classes.map((n) => runLabel.get(n) ?? -1);
      const records = ds.records.map((r) => {
        const labels = Int32Array.from(r.target.labels, (l, k) => {
          const to = fileToRun[l];
          if (to < 0) {
            throw new Error(`${annFile}: annotation id ${r.annotationIds[k]} (image id ${r.imageId}) has category '${ds.classes[l]}' ` +
              `(id ${ds.labelToCategoryId[l]}), which is not among the config's ${names.length} classes [${names.join(', ')}]`);
          }
          return to;
        });
        return { ...r, target: withLabels(r.target, labels) };
      });
      const catByName = new Map(ds.classes.map((n, i) => [n, ds.labelToCategoryId[i]] as const));
      return {
        purpose,
        records,
        classes: names,
        gt: ds.coco,
        cocoImageIds: records.map((r) => r.imageId),
        categoryIds: names.map((n) => catByName.get(n) ?? -1),
        issues: ds.issues,
      };
    }
    case 'voc': {
      const opts: VocDetectionOptions = {
        annotationsDir: d.annotationsDir,
        imagesDir: d.imagesDir,
        imageExt: d.imageExt,
        split,
        classes: classes ? [...classes] : 'found',
        unknownClasses: d.unknownClasses ?? 'error',
        degenerateBoxes: 'drop',
      };
      const set = await scanVocDetection(d.root, opts);
      // Objects of other classes skipped on request are not problems of the data: not reported one by one.
      const issues = opts.unknownClasses === 'skip' ? set.issues.filter((i) => i.code !== 'unknown-class') : set.issues;
      let records: DetectionRecord[] = set.records;
      if (purpose === 'train' && d.filterEmpty) records = records.filter((r) => r.target.labels.length > 0);
      const gtJson = await vocToCoco(d.root, { ...opts, classes: set.classes });
      if (gtJson.images.length !== set.records.length) {
        throw new Error(`VOC '${d.root}' split ${split}: ${gtJson.images.length} images converted but ${set.records.length} listed`);
      }
      const vocIds = set.records.map((r) => r.imageId);
      const idOf = new Map(vocIds.map((id, i) => [id, i + 1] as const));
      return {
        purpose,
        records,
        classes: set.classes,
        gt: new Coco(gtJson, `${path.join(set.root, 'ImageSets', 'Main', `${split}.txt`)} (VOC converted to COCO)`),
        cocoImageIds: records.map((r) => idOf.get(r.imageId as string)!),
        categoryIds: set.classes.map((_, i) => i + 1),
        voc: { gt: vocGroundTruth(set), imageIds: vocIds, use07Metric: d.use07Metric },
        issues,
      };
    }
    default: {
      const never: never = d;
      throw new Error(`unknown data format ${JSON.stringify((never as { format: unknown }).format)}`);
    }
  }
}

/** The issues of a split as a short report (the first `max` lines and a count), or '' when there are none. */
export function formatSplitIssues(split: string, issues: readonly DatasetIssue[], max = 5): string {
  if (issues.length === 0) return '';
  const counts = new Map<string, number>();
  for (const i of issues) counts.set(i.code, (counts.get(i.code) ?? 0) + 1);
  const head = `split ${split}: ${issues.length} annotation problem(s) handled while listing (${[...counts].map(([c, n]) => `${n} ${c}`).join(', ')})`;
  const lines = issues.slice(0, max).map((i) => `  ${formatIssue(i)}`);
  if (issues.length > max) lines.push(`  ... and ${issues.length - max} more`);
  return [head, ...lines].join('\n');
}
