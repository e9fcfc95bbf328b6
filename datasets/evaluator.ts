/**
 * The protocol every evaluator follows (detectron2's `DatasetEvaluator`: `reset / process / evaluate`): state is
 * accumulated image by image or batch by batch, then reduced once. Evaluators work on plain arrays read back from
 * the model and never import a tensor library, so they run (and are tested) without one.
 *
 * - `A`: the arguments of one `update` (predictions with their ground truth or the index of the record they belong to).
 * - `M`: the metrics `compute` returns, fractions unless a field name ends in `Percent`.
 */
export interface Evaluator<A extends unknown[], M> {
  /** Forget everything accumulated (a new evaluation pass). */
  reset(): void;
  /** Add the predictions of one image or batch. */
  update(...args: A): void;
  /** The metrics over everything added since the last `reset`. */
  compute(): M;
  /** The report of `metrics` as text, with the class names the evaluator was built with. */
  format(metrics: M): string;
  /** The headline numbers of `metrics` logged per evaluation (`metrics.jsonl`), named with their unit. */
  summary(metrics: M): Record<string, number>;
}
