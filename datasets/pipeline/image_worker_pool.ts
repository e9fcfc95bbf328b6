/**
 * A pool of worker threads that run the pixel work of the detection pipeline (decode, colour jitter, resample,
 * mirror, normalize) off the main thread, where the training step runs. Built on piscina; the threads load
 * `detection_worker.ts` (under tsx) or `detection_worker.js` (compiled `dist/`), whichever sits next to this file.
 *
 * What crosses threads: a `DetectionImageJob` (plain data: file path, output size, the random draws already made
 * on the main thread) in, the normalized float32 pixels out (written by the worker into a `SharedArrayBuffer`, so
 * neither copied nor turned into new external memory on the main thread). Every random draw happens on the
 * main thread before the job is sent, so the output for a seed does not depend on which thread finishes first.
 *
 * The pool owns its threads: call `close()` when done (idle threads also end after `idleTimeoutMs`, so a forgotten
 * pool does not keep the process alive for long).
 *
 * Reference: PyTorch `torch/utils/data/dataloader.py` (`num_workers`: the per-sample transform runs in workers, the
 * main process collates); piscina `Piscina` (`filename`, `maxThreads`, `idleTimeout`, `Piscina.move`).
 */
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { Piscina } from 'piscina';
import type { DetectionImageJob } from './detection_presets';

/** Options of `ImageWorkerPool`. */
export interface ImageWorkerPoolOptions {
  /** Worker threads, >= 1. Default: the number of CPUs (`os.availableParallelism()`). */
  threads?: number;
  /** An idle thread ends after this many ms. Default 2000. */
  idleTimeoutMs?: number;
}

/** The worker entry next to this module: `.ts` when running from sources (tsx), `.js` from `dist/`. */
function workerFile(): string {
  return path.join(__dirname, `detection_worker${path.extname(__filename)}`);
}

/**
 * Node options of the threads: the parent's, plus tsx's loader when running from TypeScript sources and the parent
 * registered tsx in-process (mocha's `require: tsx/cjs`) rather than through its command line (`npx tsx`).
 */
function workerExecArgv(): string[] {
  const argv = [...process.execArgv];
  if (path.extname(__filename) === '.ts' && !argv.some((a) => a.includes('tsx'))) {
    argv.push('--import', pathToFileURL(require.resolve('tsx')).href);
  }
  return argv;
}

/**
 * Worker threads for `DetectionImageJob`s. One pool can serve several loaders (train and eval).
 */
export class ImageWorkerPool {
  /** Worker threads. */
  readonly threads: number;
  private readonly pool: Piscina;
  private closed = false;

  /** @throws when `threads` is not an integer >= 1. */
  constructor(opts: ImageWorkerPoolOptions = {}) {
    const threads = opts.threads ?? os.availableParallelism();
    if (!(Number.isInteger(threads) && threads >= 1)) {
      throw new Error(`ImageWorkerPool: threads must be an integer >= 1, got ${threads}`);
    }
    this.threads = threads;
    this.pool = new Piscina({
      filename: workerFile(),
      minThreads: 0,
      maxThreads: threads,
      idleTimeout: opts.idleTimeoutMs ?? 2000,
      execArgv: workerExecArgv(),
    });
  }

  /**
   * Run a detection image job on a worker thread.
   * @returns the [job.height, job.width, 3] float32 pixels (a view of a `SharedArrayBuffer` the worker wrote and no
   * longer references; caller owns).
   * @throws the worker's error, whose message names the file (and image id when the size check fails); an error
   * when the pool was closed.
   */
  async runDetectionJob(job: DetectionImageJob): Promise<Float32Array> {
    if (this.closed) throw new Error(`ImageWorkerPool: closed (job for '${job.file}')`);
    const data: unknown = await this.pool.run(job);
    if (!(data instanceof Float32Array) || data.length !== job.height * job.width * 3) {
      throw new Error(`ImageWorkerPool: worker returned ${Object.prototype.toString.call(data)} for '${job.file}', ` +
        `expected float32 [${job.height}, ${job.width}, 3]`);
    }
    return data;
  }

  /** End the threads (jobs already queued finish first). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }
}
