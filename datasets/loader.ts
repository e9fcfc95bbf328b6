/**
 * A data loader that decodes samples ahead of the consumer, in parallel, with a bounded buffer, and collates them
 * into batches with a pluggable collate function.
 *
 * Parallelism: sharp decodes on libuv's thread pool, so `concurrency` samples in flight at once keep the cores
 * busy without worker processes (set UV_THREADPOOL_SIZE above 4 for more than 4 concurrent decodes).
 * Memory: at most `prefetchBatches * batchSize` decoded samples are held (in flight or waiting), tensors are
 * created only when the consumer takes a batch, and the dataset is read lazily, one sample at a time.
 * Determinism: the order of an epoch and every sample's random stream depend only on `seed`, the epoch index and
 * the sample's position in the epoch, never on which decode finishes first.
 *
 * Reference: PyTorch `torch/utils/data/dataloader.py` (`shuffle`, `drop_last`, `collate_fn`, `prefetch_factor`),
 * `torch/utils/data/_utils/collate.py` (`default_collate` stacks images and labels).
 */
import * as tf from '@tensorflow/tfjs-core';
import { SeedSequence } from '../src/common/seed';
import type { ClassificationSample, ImageMeta } from './types';

/**
 * A random-access dataset: `get(i)` loads sample i (0 <= i < length). Nothing is held between calls.
 * @param rng - the sample's own random stream for augmentation; deterministic per (seed, epoch, position).
 */
export interface MapDataset<S> {
  readonly length: number;
  get(index: number, rng: SeedSequence): Promise<S>;
}

/** Options of `DataLoader`. */
export interface DataLoaderOptions<S, B> {
  /** Samples per batch, >= 1. */
  batchSize: number;
  /** Turns a list of samples (length batchSize, or less for the last batch) into a batch. */
  collate: (samples: S[]) => B;
  /** Shuffle the order each epoch (training). Default false: the dataset order (evaluation). */
  shuffle?: boolean;
  /** Root seed of the order and of every sample's random stream. Default 0. */
  seed?: number;
  /** Drop the last incomplete batch of each epoch. Default false. */
  dropLast?: boolean;
  /** Samples decoding at the same time, >= 1. Default 4. */
  concurrency?: number;
  /** Batches decoded ahead of the consumer, >= 1. Default 2; the buffer holds at most prefetchBatches * batchSize
   * samples. */
  prefetchBatches?: number;
}

/** What the infinite iterator yields. */
export interface EpochBatch<B> {
  batch: B;
  /** Epoch index, from `startEpoch`. */
  epoch: number;
  /** Batch index within the epoch. */
  step: number;
}

/** Counters for tests and benchmarks. */
export interface LoaderStats {
  /** Largest number of samples started but not yet handed to collate, over the loader's life. */
  maxBufferedSamples: number;
  /** Largest number of `dataset.get` calls pending at once. */
  maxInFlight: number;
}

function checkPositiveInt(what: string, v: number): void {
  if (!(Number.isInteger(v) && v >= 1)) throw new Error(`DataLoader: ${what} must be an integer >= 1, got ${v}`);
}

/**
 * Batches from a `MapDataset`, decoded ahead in parallel.
 * `epoch(e)` is one pass (evaluation: `shuffle: false`, a single ordered pass); `batches()` runs epochs forever
 * (training). Leaving a `for await` early stops scheduling; samples already in flight finish and are dropped.
 */
export class DataLoader<S, B> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly concurrency: number;
  readonly prefetchBatches: number;
  private readonly seed: number;
  private readonly collate: (samples: S[]) => B;
  private readonly statsValue: LoaderStats = { maxBufferedSamples: 0, maxInFlight: 0 };

  constructor(readonly dataset: MapDataset<S>, opts: DataLoaderOptions<S, B>) {
    checkPositiveInt('batchSize', opts.batchSize);
    this.batchSize = opts.batchSize;
    this.collate = opts.collate;
    this.shuffle = opts.shuffle ?? false;
    this.seed = opts.seed ?? 0;
    this.dropLast = opts.dropLast ?? false;
    this.concurrency = opts.concurrency ?? 4;
    this.prefetchBatches = opts.prefetchBatches ?? 2;
    checkPositiveInt('concurrency', this.concurrency);
    checkPositiveInt('prefetchBatches', this.prefetchBatches);
    if (!Number.isInteger(this.seed)) throw new Error(`DataLoader: seed must be an integer, got ${this.seed}`);
  }

  /** Batches per epoch: floor(len / batchSize) with `dropLast`, else ceil. */
  get batchesPerEpoch(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Counters since construction (see `LoaderStats`). */
  stats(): LoaderStats {
    return { ...this.statsValue };
  }

  /**
   * The dataset indices of epoch `epoch` in the order they are served (identity without `shuffle`), and the seed
   * stream of its samples. Epoch e's streams are the e-th `spawn()` of `SeedSequence(seed)`.
   */
  private epochPlan(epoch: number): { order: number[]; sampleSeeds: SeedSequence } {
    if (!(Number.isInteger(epoch) && epoch >= 0)) throw new Error(`DataLoader: epoch must be an integer >= 0, got ${epoch}`);
    const root = new SeedSequence(this.seed);
    let epochRng = root.spawn();
    for (let e = 0; e < epoch; e++) epochRng = root.spawn();
    const orderRng = epochRng.spawn();
    const sampleSeeds = epochRng.spawn();
    const order = Array.from({ length: this.dataset.length }, (_, i) => i);
    if (this.shuffle) orderRng.shuffle(order);
    return { order, sampleSeeds };
  }

  /** The dataset indices epoch `epoch` serves, in order (after `dropLast`). */
  epochOrder(epoch: number): number[] {
    const { order } = this.epochPlan(epoch);
    return order.slice(0, this.dropLast ? this.batchesPerEpoch * this.batchSize : order.length);
  }

  /**
   * One pass over the dataset.
   * @param epoch - epoch index (selects the shuffle order and the sample streams), default 0.
   * @returns an async iterator of collated batches; the consumer owns each batch (dispose its tensors).
   * @throws the first error of `dataset.get` for a sample of the batch being taken.
   */
  async *epoch(epoch = 0): AsyncGenerator<B, void, undefined> {
    const { sampleSeeds } = this.epochPlan(epoch);
    const order = this.epochOrder(epoch);
    const total = order.length;
    const bs = this.batchSize;
    const window = this.prefetchBatches * bs;
    const pending = new Map<number, Promise<S>>();
    let nextToStart = 0; // position in `order`
    let consumedUpTo = 0; // positions < this were handed to collate
    let inFlight = 0;
    let stopped = false;
    let wake: (() => void) | null = null;
    const stats = this.statsValue;

    const pump = (): void => {
      while (!stopped && nextToStart < total && inFlight < this.concurrency && nextToStart < consumedUpTo + window) {
        const pos = nextToStart++;
        // Seeds are drawn in position order as samples are scheduled, so sample `pos` always gets the same stream.
        const rng = new SeedSequence(sampleSeeds.next() | 0);
        inFlight++;
        stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
        stats.maxBufferedSamples = Math.max(stats.maxBufferedSamples, nextToStart - consumedUpTo);
        const p = Promise.resolve()
          .then(() => this.dataset.get(order[pos], rng))
          .finally(() => {
            inFlight--;
            pump();
            if (wake) wake();
          });
        p.catch(() => undefined); // rejection is delivered when the batch is taken, never unhandled
        pending.set(pos, p);
      }
    };

    try {
      for (let start = 0; start < total; start += bs) {
        const end = Math.min(start + bs, total);
        pump();
        const samples: S[] = [];
        for (let pos = start; pos < end; pos++) {
          while (!pending.has(pos)) {
            // Not scheduled yet (concurrency limit): wait for a decode to finish, which pumps.
            await new Promise<void>((resolve) => { wake = resolve; pump(); if (pending.has(pos)) resolve(); });
            wake = null;
          }
          samples.push(await pending.get(pos)!);
        }
        for (let pos = start; pos < end; pos++) pending.delete(pos);
        consumedUpTo = end;
        pump();
        yield this.collate(samples);
      }
    } finally {
      stopped = true;
      pending.clear();
    }
  }

  /**
   * Epochs forever, from `startEpoch` (training). Each yielded batch is owned by the consumer.
   */
  async *batches(startEpoch = 0): AsyncGenerator<EpochBatch<B>, void, undefined> {
    if (this.batchesPerEpoch === 0) {
      throw new Error(`DataLoader: an epoch has no batch (dataset length ${this.dataset.length}, batchSize ` +
        `${this.batchSize}, dropLast ${this.dropLast})`);
    }
    for (let epoch = startEpoch; ; epoch++) {
      let step = 0;
      for await (const batch of this.epoch(epoch)) yield { batch, epoch, step: step++ };
    }
  }
}

/** A classification batch. Tensors are new; the consumer disposes them (`disposeClassificationBatch`). */
export interface ClassificationBatch {
  /** [N, H, W, 3] float32, NHWC, normalized. */
  images: tf.Tensor4D;
  /** [N] int32, contiguous 0..K-1. */
  labels: tf.Tensor1D;
  /** N entries, in batch order. */
  metas: ImageMeta[];
}

/**
 * Stack normalized classification samples into a batch (`default_collate` for image + label).
 * @param samples - N >= 1 samples, each [H, W, 3] float32 with the same H, W.
 * @returns new tensors (caller disposes): images [N, H, W, 3] float32, labels [N] int32.
 * @throws when the list is empty, an image is not float32, or sizes differ (naming the file).
 */
export function collateClassification(samples: ClassificationSample[]): ClassificationBatch {
  if (samples.length === 0) throw new Error('collateClassification: empty sample list');
  const { height: h, width: w } = samples[0].image;
  const per = h * w * 3;
  const data = new Float32Array(samples.length * per);
  const labels = new Int32Array(samples.length);
  samples.forEach((s, i) => {
    if (!(s.image.data instanceof Float32Array)) {
      throw new Error(`collateClassification: '${s.meta.file}' is not normalized (uint8); apply normalizeSample`);
    }
    if (s.image.height !== h || s.image.width !== w || s.image.data.length !== per) {
      throw new Error(`collateClassification: '${s.meta.file}' is ${s.image.height}x${s.image.width}, the batch ` +
        `is ${h}x${w} (from '${samples[0].meta.file}'); use a fixed-size transform`);
    }
    if (!Number.isInteger(s.label) || s.label < 0) {
      throw new Error(`collateClassification: '${s.meta.file}' has label ${s.label}, expected an integer >= 0`);
    }
    data.set(s.image.data, i * per);
    labels[i] = s.label;
  });
  return {
    images: tf.tensor4d(data, [samples.length, h, w, 3], 'float32'),
    labels: tf.tensor1d(labels, 'int32'),
    metas: samples.map((s) => s.meta),
  };
}

/** Dispose the tensors of a classification batch. */
export function disposeClassificationBatch(batch: ClassificationBatch): void {
  batch.images.dispose();
  batch.labels.dispose();
}
