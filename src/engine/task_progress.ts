/**
 * A progress bar for loops other than training (evaluation, feature extraction, prediction): a label, a count with
 * a total, items per second and ETA (cli-progress), on stderr and only when it is a terminal.
 */
import * as cliProgress from 'cli-progress';

/** A counter display. */
export interface TaskProgress {
  /** Set the number of items done. */
  update(done: number): void;
  stop(): void;
}

/**
 * Start a bar.
 * @param label what is counted, e.g. `eval` or `features`.
 * @param total number of items (images or batches).
 * @param opts.quiet show nothing.
 */
export function startTaskProgress(label: string, total: number, opts: { quiet?: boolean; unit?: string } = {}): TaskProgress {
  const stream = process.stderr;
  if (opts.quiet || !stream.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} {bar} {value}/{total} ${opts.unit ?? ''} | {speed}/s | ETA {eta_formatted}`,
      barsize: 24,
      hideCursor: null,
    },
    cliProgress.Presets.shades_classic,
  );
  const t0 = performance.now();
  bar.start(total, 0, { speed: '-' });
  return {
    update(done: number) {
      const s = (performance.now() - t0) / 1000;
      bar.update(done, { speed: s > 0 ? (done / s).toFixed(2) : '-' });
    },
    stop() {
      bar.stop();
    },
  };
}
