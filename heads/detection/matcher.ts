/**
 * Anchor-to-ground-truth assignment by IoU thresholds, torchvision's `det_utils.Matcher` semantics.
 *
 * For each anchor, the best ground-truth box (first index among equal IoUs) is a match when its IoU >= `high`;
 * IoU < `low` gives `BELOW_LOW_THRESHOLD` (-1, background); `low <= IoU < high` gives `BETWEEN_THRESHOLDS` (-2,
 * ignored by the losses). With `allowLowQualityMatches`, every anchor whose IoU with some ground-truth box equals
 * that box's highest IoU over all anchors (ties included) gets back its best match even below `low` (Ren et al.
 * 2015, Faster R-CNN; RetinaNet keeps this).
 *
 * Reference: torchvision `models/detection/_utils.py` (`Matcher`, `set_low_quality_matches_`).
 */

/** Match value of anchors whose best IoU is below the low threshold (background). */
export const BELOW_LOW_THRESHOLD = -1;
/** Match value of anchors whose best IoU is between the thresholds (ignored). */
export const BETWEEN_THRESHOLDS = -2;

/** Options of `Matcher`. */
export interface MatcherOptions {
  /** IoU at or above which an anchor is foreground. RetinaNet: 0.5. */
  highThreshold: number;
  /** IoU below which an anchor is background. RetinaNet: 0.4. */
  lowThreshold: number;
  /** Give each ground-truth box its best anchors even below `lowThreshold`. RetinaNet: true. */
  allowLowQualityMatches: boolean;
}

/** IoU-threshold matcher. */
export class Matcher {
  readonly options: Readonly<MatcherOptions>;

  /** @throws Error when lowThreshold > highThreshold. */
  constructor(opts: MatcherOptions) {
    if (!(opts.lowThreshold <= opts.highThreshold)) {
      throw new Error(`Matcher: lowThreshold (${opts.lowThreshold}) must be <= highThreshold (${opts.highThreshold})`);
    }
    this.options = { ...opts };
  }

  /**
   * Match every anchor.
   * @param iou [M * R] float32 IoU matrix, row-major, rows = ground-truth boxes, columns = anchors (`boxIou(gt, anchors)`).
   * @param numGt M (>= 1).
   * @returns new [R] int32: the matched ground-truth index in 0..M-1, or -1 (background), or -2 (ignored).
   * @throws Error when M = 0 or R = 0 (torchvision refuses them; images without boxes skip the matcher) or the
   *   matrix size is not M * R.
   */
  match(iou: Float32Array, numGt: number): Int32Array {
    if (numGt <= 0) throw new Error('Matcher: no ground-truth boxes (images without boxes are all background; do not call the matcher)');
    if (iou.length % numGt !== 0 || iou.length === 0) {
      throw new Error(`Matcher: IoU matrix of length ${iou.length} is not [M=${numGt} x R] with R >= 1`);
    }
    const r = iou.length / numGt;
    const { highThreshold, lowThreshold, allowLowQualityMatches } = this.options;
    const best = new Float32Array(r).fill(-Infinity);
    const all = new Int32Array(r);
    for (let g = 0; g < numGt; g++) {
      const row = g * r;
      for (let a = 0; a < r; a++) {
        // torch.max(dim=0) keeps the first maximum; NaN propagates as the maximum.
        const v = iou[row + a];
        if (v > best[a] || (Number.isNaN(v) && !Number.isNaN(best[a]))) {
          best[a] = v;
          all[a] = g;
        }
      }
    }
    const matches = new Int32Array(r);
    for (let a = 0; a < r; a++) {
      const v = best[a];
      matches[a] = v < lowThreshold ? BELOW_LOW_THRESHOLD : v < highThreshold ? BETWEEN_THRESHOLDS : all[a];
    }
    if (allowLowQualityMatches) {
      for (let g = 0; g < numGt; g++) {
        const row = g * r;
        let highest = -Infinity;
        for (let a = 0; a < r; a++) if (iou[row + a] > highest) highest = iou[row + a];
        for (let a = 0; a < r; a++) if (iou[row + a] === highest) matches[a] = all[a];
      }
    }
    return matches;
  }
}
