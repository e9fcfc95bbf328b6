/**
 * The segmentation evaluator of the task protocol: Pascal VOC's confusion-matrix metrics (`SegmentationConfusion`)
 * with the run's class names for the report.
 *
 * Reference: mmsegmentation `core/evaluation/metrics.py` (`mean_iou`), torchvision `references/segmentation/utils.py`
 * (`ConfusionMatrix`).
 */
import type { Evaluator, MergeableEvaluator } from '../evaluator';
import { formatSegmentationMetrics, SegmentationConfusion, type LabelArray, type SegmentationMetrics, type SegmentationState } from './miou';

/** Pixel accuracy, IoU per class and their means over images added one at a time. */
export class SegmentationEvaluator
  extends SegmentationConfusion
  implements Evaluator<[gt: LabelArray, pred: LabelArray, name?: string], SegmentationMetrics>, MergeableEvaluator<SegmentationState>
{
  /**
   * @param classNames K names, label order (K = `classNames.length`).
   * @param ignoreIndex ground-truth value left out of every count (255 in VOC masks).
   * @throws Error as `SegmentationConfusion` for an invalid K or an ignore index that is a class.
   */
  constructor(
    readonly classNames: readonly string[],
    ignoreIndex = 255,
  ) {
    super({ numClasses: classNames.length, ignoreIndex });
  }

  /** The per-class IoU / accuracy table and the means, percent. */
  format(m: SegmentationMetrics): string {
    return formatSegmentationMetrics(m, this.classNames);
  }

  /** mIoU, aAcc and mAcc in percent (NaN when undefined). */
  summary(m: SegmentationMetrics): Record<string, number> {
    const pct = (v: number | null): number => (v === null ? NaN : 100 * v);
    return { mIoUPercent: pct(m.mIoU), aAccPercent: pct(m.aAcc), mAccPercent: pct(m.mAcc) };
  }
}
