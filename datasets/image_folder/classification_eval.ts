/**
 * Classification evaluator: top-1 / top-5 accuracy, per-class accuracy and the confusion matrix, accumulated over
 * batches of logits. Plain arrays only (no tensors): read logits back with `await logits.data()` first.
 *
 * Tie rule (stated, and tested): ranks follow `torch.topk` on CPU, which for equal scores puts the lower class index
 * first. So the label is in the top k iff
 *   #{j : s_j > s_label} + #{j < label : s_j = s_label} < k,
 * and the top-1 prediction (confusion matrix column) is the lowest index among the maximal scores (`argmax`).
 * k is capped at K (top-5 with 3 classes is top-3, i.e. always 1). NaN logits are rejected.
 *
 * Reference: torchvision `references/classification/utils.py` `accuracy` (topk over logits, correct if the target is
 * among the first k), the usual confusion matrix with rows = ground truth and columns = prediction
 * (scikit-learn `confusion_matrix`).
 */
import { expectStateFields, type Evaluator, type MergeableEvaluator } from '../evaluator';

/** Options of `ClassificationEvaluator`. */
export interface ClassificationEvaluatorOptions {
  /** Extra k's of top-k accuracies to report, each >= 1 (capped at K); 1 and 5 are always reported. */
  topK?: readonly number[];
}

/** Results; accuracies are fractions 0..1. */
export interface ClassificationMetrics {
  /** Images seen. */
  count: number;
  /** Top-1 accuracy, 0..1 (NaN before any image). */
  top1: number;
  /** Top-5 accuracy (k capped at K), 0..1. */
  top5: number;
  /** k → top-k accuracy 0..1 for k = 1, 5 and every requested k (keys before capping at K). */
  topK: Record<number, number>;
  /** Per-class top-1 accuracy (recall) 0..1, `null` for a class with no image. Length K. */
  perClassAccuracy: (number | null)[];
  /** Images per ground-truth class. Length K. */
  perClassCount: number[];
  /** [K][K]: confusion[gt][pred] = number of images of class gt predicted (top-1) as pred. */
  confusion: number[][];
  /** Mean of the non-null per-class accuracies, 0..1 ("balanced accuracy"). */
  meanClassAccuracy: number;
}

/** The counts a `ClassificationEvaluator` accumulated (`exportState`), plain JSON. */
export interface ClassificationState {
  numClasses: number;
  /** The k's tracked, increasing. */
  ks: number[];
  /** Images whose label is in the top k, per entry of `ks`. */
  hits: number[];
  /** [K * K] confusion counts, row-major [gt][pred]. */
  confusion: number[];
  count: number;
}

/**
 * Accumulates top-k hits and a confusion matrix over batches.
 * Reference: torchvision `references/classification/utils.py` `accuracy`.
 */
export class ClassificationEvaluator
  implements Evaluator<[logits: Float32Array | ArrayLike<number>, labels: Int32Array | ArrayLike<number>], ClassificationMetrics>, MergeableEvaluator<ClassificationState>
{
  /** K. */
  readonly numClasses: number;
  private readonly ks: number[];
  private readonly hits: number[];
  private readonly conf: Float64Array; // [K * K], row = gt
  private count = 0;

  /**
   * @param classNames - K names, `classNames[label]` (e.g. `ImageFolder.classes`); K >= 1.
   */
  constructor(readonly classNames: readonly string[], opts: ClassificationEvaluatorOptions = {}) {
    this.numClasses = classNames.length;
    if (this.numClasses < 1) throw new Error('ClassificationEvaluator: needs at least one class name');
    const requested = opts.topK ?? [1, 5];
    for (const k of requested) {
      if (!(Number.isInteger(k) && k >= 1)) throw new Error(`ClassificationEvaluator: topK entries must be integers >= 1, got ${k}`);
    }
    // top-1 and top-5 are always tracked; extra k's are added.
    this.ks = [...new Set([1, 5, ...requested])].sort((a, b) => a - b);
    this.hits = this.ks.map(() => 0);
    this.conf = new Float64Array(this.numClasses * this.numClasses);
  }

  /**
   * Add one batch.
   * @param logits - [N * K] float32, row-major [N, K]: logits or scores (any monotonic transform gives the same
   * result).
   * @param labels - [N] ground-truth labels, integers 0..K-1.
   * @throws when the lengths disagree, a label is outside 0..K-1 or a logit is NaN (naming the row).
   */
  update(logits: Float32Array | ArrayLike<number>, labels: Int32Array | ArrayLike<number>): void {
    const K = this.numClasses;
    const n = labels.length;
    if (logits.length !== n * K) {
      throw new Error(`ClassificationEvaluator.update: logits has ${logits.length} values, expected N*K = ${n}*${K}`);
    }
    const caps = this.ks.map((k) => Math.min(k, K));
    for (let i = 0; i < n; i++) {
      const gt = labels[i];
      if (!(Number.isInteger(gt) && gt >= 0 && gt < K)) {
        throw new Error(`ClassificationEvaluator.update: row ${i} has label ${gt}, expected an integer in 0..${K - 1}`);
      }
      const row = i * K;
      const sGt = logits[row + gt];
      let rank = 0; // classes ranked before gt under the torch.topk order
      let argmax = 0;
      for (let j = 0; j < K; j++) {
        const s = logits[row + j];
        if (Number.isNaN(s)) throw new Error(`ClassificationEvaluator.update: row ${i} class ${j} logit is NaN`);
        if (s > sGt || (s === sGt && j < gt)) rank++;
        if (s > logits[row + argmax]) argmax = j;
      }
      caps.forEach((k, t) => { if (rank < k) this.hits[t]++; });
      this.conf[gt * K + argmax]++;
      this.count++;
    }
  }

  /** The metrics over everything added since the last `reset`. */
  compute(): ClassificationMetrics {
    const K = this.numClasses;
    const topK: Record<number, number> = {};
    this.ks.forEach((k, t) => { topK[k] = this.hits[t] / this.count; });
    const confusion: number[][] = [];
    const perClassCount: number[] = [];
    const perClassAccuracy: (number | null)[] = [];
    for (let g = 0; g < K; g++) {
      const row = Array.from(this.conf.subarray(g * K, (g + 1) * K));
      confusion.push(row);
      const total = row.reduce((a, b) => a + b, 0);
      perClassCount.push(total);
      perClassAccuracy.push(total > 0 ? row[g] / total : null);
    }
    const valid = perClassAccuracy.filter((a): a is number => a !== null);
    return {
      count: this.count,
      top1: topK[1],
      top5: topK[5],
      topK,
      perClassAccuracy,
      perClassCount,
      confusion,
      meanClassAccuracy: valid.reduce((a, b) => a + b, 0) / valid.length,
    };
  }

  /** The counts accumulated so far (see `MergeableEvaluator`). */
  exportState(): ClassificationState {
    return { numClasses: this.numClasses, ks: this.ks.slice(), hits: this.hits.slice(), confusion: Array.from(this.conf), count: this.count };
  }

  /**
   * Add the counts of another evaluator with the same K and k's.
   * @throws Error naming what differs (K, the k's, the length of a count array); nothing is added then.
   */
  mergeState(state: ClassificationState): void {
    const s = expectStateFields(state, 'ClassificationEvaluator.mergeState', ['numClasses', 'ks', 'hits', 'confusion', 'count']) as unknown as ClassificationState;
    const K = this.numClasses;
    if (s.numClasses !== K) throw new Error(`ClassificationEvaluator.mergeState: state of K = ${s.numClasses} classes, this evaluator has K = ${K}`);
    if (!Array.isArray(s.ks) || s.ks.join(',') !== this.ks.join(',')) {
      throw new Error(`ClassificationEvaluator.mergeState: state tracks top-k for k = [${String(s.ks)}], this evaluator for [${this.ks.join(', ')}]`);
    }
    const counts = (v: unknown, n: number): v is number[] => Array.isArray(v) && v.length === n && v.every((x) => Number.isInteger(x) && x >= 0);
    if (!counts(s.hits, this.ks.length) || !counts(s.confusion, K * K) || !counts([s.count], 1)) {
      throw new Error(`ClassificationEvaluator.mergeState: hits, confusion or count are not non-negative integer counts of lengths ${this.ks.length}, ${K * K}, 1`);
    }
    s.hits.forEach((h, t) => (this.hits[t] += h));
    s.confusion.forEach((c, j) => (this.conf[j] += c));
    this.count += s.count;
  }

  /** Forget everything added. */
  reset(): void {
    this.hits.fill(0);
    this.conf.fill(0);
    this.count = 0;
  }

  /**
   * The evaluation report: top-1/top-5, per-class accuracy and the confusion matrix, with the class names.
   * Accuracies in percent, two decimals; `n/a` for a class without images.
   */
  format(m: ClassificationMetrics): string {
    const classes = this.classNames;
    const pct = (v: number | null) => (v === null || Number.isNaN(v) ? '   n/a' : (100 * v).toFixed(2).padStart(6));
    const w = Math.max(5, ...classes.map((c) => c.length));
    const lines = [
      `images: ${m.count}   top-1: ${pct(m.top1).trim()}%   top-5: ${pct(m.top5).trim()}%   mean class accuracy: ${pct(m.meanClassAccuracy).trim()}%`,
      '',
      `${'class'.padEnd(w)}  images  acc (%)`,
      ...classes.map((c, k) => `${c.padEnd(w)}  ${String(m.perClassCount[k]).padStart(6)}  ${pct(m.perClassAccuracy[k])}`),
      '',
      'confusion matrix (rows: ground truth, columns: prediction)',
      `${''.padEnd(w)}  ${classes.map((c) => c.slice(0, 8).padStart(8)).join(' ')}`,
      ...classes.map((c, k) => `${c.padEnd(w)}  ${m.confusion[k].map((v) => String(v).padStart(8)).join(' ')}`),
    ];
    return lines.join('\n');
  }

  /** Top-1 and top-5 accuracy in percent. */
  summary(m: ClassificationMetrics): Record<string, number> {
    return { top1Percent: 100 * m.top1, top5Percent: 100 * m.top5 };
  }
}
