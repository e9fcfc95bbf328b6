/**
 * The training progress bar: iteration, loss, learning rate, speed and ETA on one line (cli-progress), or nothing
 * in quiet mode and when the stream is not a terminal (CI logs, tests, output redirected to a file).
 */
import * as cliProgress from 'cli-progress';

/** What the trainer reports after each step. */
export interface ProgressUpdate {
  /** Steps completed so far. */
  iteration: number;
  /** Total loss of the last step. */
  loss: number;
  /** Learning rate of the last step. */
  lr: number;
  /** Steps per second over the recent window. */
  itPerSec: number;
}

/** A progress display. */
export interface ProgressReporter {
  start(totalIters: number, startIter: number): void;
  update(u: ProgressUpdate): void;
  stop(): void;
}

/** A reporter that shows nothing. */
export class SilentProgress implements ProgressReporter {
  start(): void {}
  update(): void {}
  stop(): void {}
}

/** A one-line cli-progress bar on `stream` (default stderr). ETA is cli-progress's own estimate from recent updates. */
export class BarProgress implements ProgressReporter {
  private readonly bar: cliProgress.SingleBar;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.bar = new cliProgress.SingleBar(
      {
        stream,
        format: 'train {bar} {value}/{total} | loss {loss} | lr {lr} | {speed} it/s | ETA {eta_formatted}',
        barsize: 24,
        etaBuffer: 50,
        hideCursor: null,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  start(totalIters: number, startIter: number): void {
    this.bar.start(totalIters, startIter, { loss: '-', lr: '-', speed: '-' });
  }

  update(u: ProgressUpdate): void {
    this.bar.update(u.iteration, { loss: u.loss.toFixed(4), lr: u.lr.toExponential(3), speed: u.itPerSec.toFixed(2) });
  }

  stop(): void {
    this.bar.stop();
  }
}

/**
 * Plain progress lines for logs that are not a terminal (CI, `nohup`, output piped to a file): one line at most
 * every `everySec` seconds, and at the last iteration, with the same fields as the bar.
 */
export class LineProgress implements ProgressReporter {
  private total = 0;
  private lastPrint = 0;
  private startTime = 0;
  private startIter = 0;

  constructor(
    private readonly stream: NodeJS.WritableStream = process.stderr,
    private readonly everySec = 30,
  ) {}

  start(totalIters: number, startIter: number): void {
    this.total = totalIters;
    this.startIter = startIter;
    this.startTime = performance.now();
    this.lastPrint = this.startTime;
  }

  update(u: ProgressUpdate): void {
    const now = performance.now();
    if (now - this.lastPrint < this.everySec * 1000 && u.iteration < this.total) return;
    this.lastPrint = now;
    const done = u.iteration - this.startIter;
    const rate = done / Math.max((now - this.startTime) / 1000, 1e-9);
    const etaSec = rate > 0 ? (this.total - u.iteration) / rate : NaN;
    const eta = Number.isFinite(etaSec) ? `${Math.floor(etaSec / 60)}m${String(Math.round(etaSec % 60)).padStart(2, '0')}s` : '-';
    this.stream.write(
      `train ${u.iteration}/${this.total} | loss ${u.loss.toFixed(4)} | lr ${u.lr.toExponential(3)} | ` +
        `${u.itPerSec.toFixed(2)} it/s | ETA ${eta}\n`,
    );
  }

  stop(): void {}
}

/**
 * The reporter for a run: a bar on a terminal, plain lines every 30 s otherwise (logs), nothing when `quiet`.
 * @param opts.quiet force silence (tests, scripted runs).
 * @param opts.stream where the progress goes; default stderr, so stdout stays free for results.
 */
export function createProgress(opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): ProgressReporter {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet) return new SilentProgress();
  return stream.isTTY ? new BarProgress(stream) : new LineProgress(stream);
}
