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

/**
 * An evaluator whose accumulated state can leave the process as plain JSON and be added to another's: a split
 * evaluated in shards by separate processes gives, once the shards' states are merged into one evaluator built the
 * same way, exactly the metrics of one pass (counts add; detections are ordered by record index, the order of one
 * pass).
 *
 * - `S`: the state, JSON-serializable (numbers, strings, arrays, plain objects), exact through `JSON.stringify` /
 *   `JSON.parse` (JavaScript prints the shortest decimal that reads back to the same float64).
 */
export interface MergeableEvaluator<S> {
  /** Everything accumulated since the last `reset`, as plain JSON. */
  exportState(): S;
  /**
   * Add a state exported by an evaluator built with the same arguments (class count, top-k list, ignore index,
   * split).
   * @throws Error saying what differs, or, for per-record states, which record was already added; nothing is
   *   added then.
   */
  mergeState(state: S): void;
}

/** A plain-object check for `mergeState` implementations: `what` names the state in messages. */
export function expectStateFields(state: unknown, what: string, fields: readonly string[]): Record<string, unknown> {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) throw new Error(`${what}: state must be an object`);
  const o = state as Record<string, unknown>;
  const missing = fields.filter((f) => !(f in o));
  if (missing.length > 0) throw new Error(`${what}: state lacks ${missing.join(', ')}`);
  return o;
}
