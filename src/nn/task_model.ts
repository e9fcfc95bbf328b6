/**
 * The protocol every task model follows, so one harness trains and evaluates any of them (detectron2's
 * `model(batched_inputs)` returning a loss dict in training and predictions in inference, split here into two
 * typed methods instead of a mode flag that changes the return type).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ForwardContext, Module } from './module';

/** The loss record of one batch: stable keys (`classification`, `boxRegression`, `segmentation`, `aux`), float32 scalars. */
export type LossRecord = Record<string, tf.Scalar>;

/**
 * A model a task trains and evaluates.
 * - `B`: the training batch (a named record of tensors and targets, e.g. `{ images, labels }`); the model reads only
 *   the fields it declares, so the collated batches of `datasets/` fit structurally.
 * - `I`, `P`: what `predict` takes and returns (typed, read back to JS: boxes, scores, class maps).
 */
export interface TaskModel<B, I, P> extends Module {
  /**
   * Batch heights and widths must be multiples of this (>= 1): the collate pads each batch bottom/right to it. The
   * model derives it from its parts (RetinaNet: the stride of its top FPN input level, torchvision's
   * `size_divisible=32`), so no config restates it.
   */
  readonly sizeDivisibility: number;
  /**
   * The training losses of one batch; the trainer sums the terms (weights already applied) and logs the keys.
   * @returns new scalars; the caller disposes them. The batch is not disposed.
   */
  computeLosses(batch: B, ctx: ForwardContext): LossRecord;
  /** Inference (`training: false`) on one input; tensors in `input` are not disposed. */
  predict(input: I): Promise<P>;
}
