/**
 * Mapping a detector's label space onto a split's: the labels of pretrained weights (torchvision's COCO detectors
 * predict COCO category ids) become the split's class indices, by category id for COCO-format data (the ids are the
 * dataset's own) or by class name for data whose ids are only 1..K (Pascal VOC converted to COCO), through the
 * table of the six classes COCO and VOC name differently. Plain arrays only.
 *
 * Reference: torchvision `references/detection/coco_utils.py` (labels are COCO category ids),
 * `models/_meta.py` (`_COCO_CATEGORIES`, `_VOC_CATEGORIES`); the Pascal VOC devkit's class names.
 */
import type { ImageDetections } from './coco/results';

/**
 * COCO's name → Pascal VOC's name of the six VOC classes the two datasets name differently; the other 14 VOC
 * classes (bicycle, bird, boat, bottle, bus, car, cat, chair, cow, dog, horse, person, sheep, train) carry the same
 * name in both.
 */
export const COCO_TO_VOC_NAMES: Readonly<Record<string, string>> = Object.freeze({
  airplane: 'aeroplane',
  motorcycle: 'motorbike',
  couch: 'sofa',
  'dining table': 'diningtable',
  'potted plant': 'pottedplant',
  tv: 'tvmonitor',
});

/**
 * For every source label, the target label of the same category id, or -1 when the target has none.
 * @param sourceIds `[K_src]` category id of each source label; negative: no category (background, unused ids).
 * @param targetIds `[K_dst]` category id of each target label (a split's `categoryIds`); negative ids match nothing.
 * @returns `[K_src]` int32 target labels, -1 where unmatched.
 */
export function labelMapByCategoryId(sourceIds: readonly number[], targetIds: readonly number[]): Int32Array {
  const byId = new Map<number, number>();
  targetIds.forEach((id, k) => {
    if (id >= 0 && !byId.has(id)) byId.set(id, k);
  });
  return Int32Array.from(sourceIds, (id) => (id >= 0 ? byId.get(id) ?? -1 : -1));
}

/**
 * For every source label, the target label of the same class name, or -1 when the target has none. Names are
 * compared after {@link COCO_TO_VOC_NAMES} (COCO's `couch` matches VOC's `sofa`), exactly otherwise.
 * @param sourceNames `[K_src]` class name of each source label.
 * @param targetNames `[K_dst]` class name of each target label (a split's `classes`).
 * @returns `[K_src]` int32 target labels, -1 where unmatched.
 */
export function labelMapByName(sourceNames: readonly string[], targetNames: readonly string[]): Int32Array {
  const canonical = (n: string) => COCO_TO_VOC_NAMES[n] ?? n;
  const byName = new Map<string, number>();
  targetNames.forEach((n, k) => {
    if (!byName.has(canonical(n))) byName.set(canonical(n), k);
  });
  return Int32Array.from(sourceNames, (n) => byName.get(canonical(n)) ?? -1);
}

/**
 * Relabels detections through a label map and drops those whose label maps to nothing, counting them.
 */
export class LabelMap {
  /** Detections dropped so far (their label maps to -1). */
  dropped = 0;

  /**
   * @param toTarget `[K_src]` int32: target label of each source label, -1 to drop (see {@link labelMapByCategoryId},
   *   {@link labelMapByName}).
   */
  constructor(readonly toTarget: Int32Array) {}

  /** Source labels that map to a target label. */
  get mapped(): number {
    return this.toTarget.reduce((n, t) => n + (t >= 0 ? 1 : 0), 0);
  }

  /**
   * The detections of one image in the target label space, order kept.
   * @param det boxes `[D * 4]` (any format, copied as is), scores `[D]`, labels `[D]` 0..K_src-1.
   * @throws Error for a label outside 0..K_src-1.
   */
  apply(det: ImageDetections): ImageDetections {
    const keep: number[] = [];
    det.labels.forEach((l, i) => {
      if (!(l >= 0 && l < this.toTarget.length)) throw new Error(`LabelMap: label ${l} is not in 0..${this.toTarget.length - 1}`);
      if (this.toTarget[l] >= 0) keep.push(i);
    });
    this.dropped += det.labels.length - keep.length;
    const boxes = new Float32Array(4 * keep.length);
    keep.forEach((i, k) => boxes.set(det.boxes.subarray(4 * i, 4 * i + 4), 4 * k));
    return {
      boxes,
      scores: Float32Array.from(keep, (i) => det.scores[i]),
      labels: Int32Array.from(keep, (i) => this.toTarget[det.labels[i]]),
    };
  }
}
