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
 * The reporter for a run: a bar when the stream is a terminal and `quiet` is false, else a silent one.
 * @param opts.quiet force silence (tests, scripted runs).
 * @param opts.stream where the bar goes; default stderr, so stdout stays free for results.
 */
export function createProgress(opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): ProgressReporter {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet || !stream.isTTY) return new SilentProgress();
  return new BarProgress(stream);
}
