/**
 * Box detection evaluation of a listed split: pycocotools' COCOeval (the 12 summary numbers and per-class AP) and,
 * for VOC data, the VOC devkit's AP at IoU 0.5, from detections in original-image pixels. Plain arrays only.
 *
 * Reference: torchvision `references/detection/coco_eval.py` (`CocoEvaluator`: results with the dataset's category
 * ids, `COCOeval(..., 'bbox')`); detectron2 `evaluation/coco_evaluation.py` (per-category AP table),
 * `evaluation/pascal_voc_evaluation.py`.
 */
import { Coco } from './coco/coco';
import { CocoEval } from './coco/cocoeval';
import { toCocoResults, type CocoDetectionResult, type ImageDetections } from './coco/results';
import type { DetectionSplit } from './detection_split';
import { expectStateFields, type Evaluator, type MergeableEvaluator } from './evaluator';
import { evaluateVocDetection, type VocDetection, type VocDetectionResult } from './voc/voc_ap';
import { vocBoxFromXyxy } from './voc/xml';

/** What `DetectionEvaluator` measures. */
export interface DetectionMetrics {
  /** Images evaluated. */
  images: number;
  /** `[12]` COCOeval stats: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl (fractions; -1 undefined). */
  stats: number[];
  /** pycocotools' 12 summary lines. */
  lines: string[];
  /** AP (IoU 0.50:0.95, area all, 100 detections) per class, fractions, -1 where the class has no ground truth. */
  perClass: { className: string; categoryId: number; ap: number }[];
  /** VOC AP at IoU 0.5 (VOC data only). */
  voc?: VocDetectionResult;
  /** The detections in the COCO results format (original pixels, the split's category ids). */
  results: CocoDetectionResult[];
}

/** The scored detections of one record of the split, as `update` converted them. */
export interface RecordDetections {
  /** Index of the record in `split.records`. */
  record: number;
  /** COCO results records (the split's image and category ids). */
  results: CocoDetectionResult[];
  /** VOC detections (VOC data; empty otherwise). */
  voc: VocDetection[];
}

/** The detections a `DetectionEvaluator` accumulated (`exportState`), plain JSON. */
export interface DetectionState {
  /** Records in the split the evaluator was built on (a state of another split is refused). */
  numRecords: number;
  /** Per record added, in the order added. */
  records: RecordDetections[];
}

/** Keep the detections whose label has a category id (>= 0). */
function scoredOnly(det: ImageDetections, categoryIds: readonly number[]): ImageDetections {
  const keep: number[] = [];
  det.labels.forEach((l, i) => {
    if ((categoryIds[l] ?? -1) >= 0) keep.push(i);
  });
  if (keep.length === det.labels.length) return det;
  const boxes = new Float32Array(keep.length * 4);
  keep.forEach((i, k) => boxes.set(det.boxes.subarray(i * 4, i * 4 + 4), k * 4));
  return { boxes, scores: Float32Array.from(keep, (i) => det.scores[i]), labels: Int32Array.from(keep, (i) => det.labels[i]) };
}

/**
 * COCO box evaluation (and VOC AP for VOC data) of detections on one split, image by image.
 * Detections of labels the split has no category for (`categoryIds[label] < 0`) are not scored.
 */
export class DetectionEvaluator implements Evaluator<[recordIndex: number, det: ImageDetections], DetectionMetrics>, MergeableEvaluator<DetectionState> {
  private entries: RecordDetections[] = [];

  /**
   * @param split from `loadDetectionSplit(data, name, classes, 'eval')`; its classes are the model's.
   * @param splitName the split's name, for the report.
   */
  constructor(
    readonly split: DetectionSplit,
    readonly splitName: string,
  ) {}

  reset(): void {
    this.entries = [];
  }

  /**
   * Add the detections of `split.records[recordIndex]`.
   * @param det boxes xyxy in original-image pixels, labels 0..K-1 in the split's class order.
   * @throws Error when `recordIndex` is not a record of the split.
   */
  update(recordIndex: number, det: ImageDetections): void {
    const s = this.split;
    if (!(Number.isInteger(recordIndex) && recordIndex >= 0 && recordIndex < s.records.length)) {
      throw new Error(`DetectionEvaluator.update: record ${recordIndex} is not in 0..${s.records.length - 1}`);
    }
    const kept = scoredOnly(det, s.categoryIds);
    const voc: VocDetection[] = [];
    if (s.voc) {
      const imageId = String(s.records[recordIndex].imageId);
      kept.labels.forEach((l, k) => {
        voc.push({ imageId, className: s.classes[l], score: kept.scores[k], boxXyxy: vocBoxFromXyxy(kept.boxes.subarray(4 * k, 4 * k + 4)) });
      });
    }
    this.entries.push({ record: recordIndex, results: toCocoResults(kept, s.cocoImageIds[recordIndex], s.categoryIds), voc });
  }

  /** The detections added so far, per record (see `MergeableEvaluator`). */
  exportState(): DetectionState {
    return { numRecords: this.split.records.length, records: this.entries.map((e) => ({ record: e.record, results: e.results.slice(), voc: e.voc.slice() })) };
  }

  /**
   * Add the detections of another evaluator on the same split (another shard of it).
   * @throws Error when the state is of a split of another size, or holds a record already added (naming it, with
   *   its image id); nothing is added then.
   */
  mergeState(state: DetectionState): void {
    const st = expectStateFields(state, 'DetectionEvaluator.mergeState', ['numRecords', 'records']) as unknown as DetectionState;
    const n = this.split.records.length;
    if (st.numRecords !== n) throw new Error(`DetectionEvaluator.mergeState: state of a split of ${st.numRecords} records, this split has ${n}`);
    if (!Array.isArray(st.records)) throw new Error('DetectionEvaluator.mergeState: records must be a list');
    const seen = new Set(this.entries.map((e) => e.record));
    for (const e of st.records) {
      if (!(Number.isInteger(e?.record) && e.record >= 0 && e.record < n) || !Array.isArray(e.results) || !Array.isArray(e.voc)) {
        throw new Error(`DetectionEvaluator.mergeState: an entry is not {record in 0..${n - 1}, results: [...], voc: [...]}`);
      }
      if (seen.has(e.record)) {
        throw new Error(`DetectionEvaluator.mergeState: record ${e.record} (image id ${this.split.cocoImageIds[e.record]}) was already added`);
      }
      seen.add(e.record);
    }
    this.entries.push(...st.records);
  }

  /** The 12 COCO numbers and lines, per-class AP, VOC AP, and the results records. */
  compute(): DetectionMetrics {
    const split = this.split;
    // Record order, the order of one pass over the split (a stable sort: one pass is already in order; merged shards
    // are put back into it, so that COCOeval sees the same list and its ties resolve the same way).
    const entries = this.entries.slice().sort((a, b) => a.record - b.record);
    const results = entries.flatMap((e) => e.results);
    const vocDets = entries.flatMap((e) => e.voc);
    const dt = results.length > 0
      ? split.gt.loadRes(results)
      : new Coco({ images: split.gt.dataset.images, categories: split.gt.dataset.categories, annotations: [] }, '<no detections>');
    const E = new CocoEval(split.gt, dt, 'bbox');
    E.params.catIds = split.categoryIds.filter((c) => c >= 0);
    E.params.imgIds = split.cocoImageIds.slice();
    E.evaluate();
    E.accumulate();
    const { stats, lines } = E.summarize();
    const apByCat = new Map(E.perCategoryAp().map((r) => [r.categoryId, r.ap] as const));
    const perClass = split.classes.map((className, k) => ({ className, categoryId: split.categoryIds[k], ap: apByCat.get(split.categoryIds[k]) ?? -1 }));
    const voc = split.voc
      ? evaluateVocDetection(
        split.voc.gt.filter((g) => split.records.some((r) => r.imageId === g.imageId)),
        vocDets,
        { classNames: split.classes, use07Metric: split.voc.use07Metric, iouThreshold: 0.5 },
      )
      : undefined;
    return { images: split.records.length, stats, lines, perClass, voc, results };
  }

  /** The evaluation report: pycocotools' 12 lines, per-class COCO AP, and VOC AP (VOC data). */
  format(m: DetectionMetrics): string {
    return formatDetectionMetrics(m, this.splitName);
  }

  /** The numbers an evaluation logs to `metrics.jsonl` (percent; -1 undefined). */
  summary(m: DetectionMetrics): Record<string, number> {
    const names = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'];
    const out: Record<string, number> = {};
    names.forEach((n, i) => (out[n] = m.stats[i] < 0 ? -1 : 100 * m.stats[i]));
    if (m.voc) out.vocMAP50 = 100 * m.voc.mAP;
    return out;
  }
}

/**
 * An AP (a fraction, -1 where undefined) as the per-class tables print it: percent with 2 decimals in 6 columns,
 * `n/a` where pycocotools gives -1 (no ground truth) or the value is NaN.
 */
export function formatApPercent(v: number): string {
  return v < 0 || Number.isNaN(v) ? '   n/a' : (100 * v).toFixed(2).padStart(6);
}

/** The evaluation report: pycocotools' 12 lines, per-class COCO AP, and VOC AP (VOC data). */
export function formatDetectionMetrics(m: DetectionMetrics, split: string): string {
  const w = Math.max(5, ...m.perClass.map((c) => c.className.length));
  const pct = formatApPercent;
  const out = [`split ${split}: ${m.images} images, ${m.results.length} detections`, ...m.lines, ''];
  // Per-class values in percent (the 12 lines above are pycocotools' fractions).
  const header = m.voc ? `${'class'.padEnd(w)}  COCO AP %  VOC AP50 %` : `${'class'.padEnd(w)}  COCO AP %`;
  out.push(header);
  m.perClass.forEach((c, k) => {
    const voc = m.voc ? `  ${pct(m.voc.perClass[k].ap).padStart(10)}` : '';
    out.push(`${c.className.padEnd(w)}  ${pct(c.ap).padStart(9)}${voc}`);
  });
  if (m.voc) {
    const n = m.voc.perClass.length;
    out.push(`VOC mAP@0.5 (${n} ${n === 1 ? 'class' : 'classes'}): ${pct(m.voc.mAP).trim()}%`);
  }
  return out.join('\n');
}
