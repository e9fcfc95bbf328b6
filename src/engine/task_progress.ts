/**
 * A progress bar for loops other than training (evaluation, feature extraction, prediction): a label, a count with
 * a total, items per second and ETA (cli-progress) on stderr when it is a terminal; otherwise (a log file, CI) the
 * same as a plain line every 30 s, as the training loop's `LineProgress`.
 */
import * as cliProgress from 'cli-progress';

/** A counter display. */
export interface TaskProgress {
  /** Set the number of items done. */
  update(done: number): void;
  stop(): void;
}

/**
 * Start a bar (a terminal) or periodic lines (anything else).
 * @param label what is counted, e.g. `eval` or `features`.
 * @param total number of items (images or batches).
 * @param opts.quiet show nothing.
 * @param opts.stream where to write (default stderr); opts.everySec the period of the plain lines (default 30 s).
 */
export function startTaskProgress(
  label: string,
  total: number,
  opts: { quiet?: boolean; unit?: string; stream?: NodeJS.WritableStream & { isTTY?: boolean }; everySec?: number } = {},
): TaskProgress {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet) return { update: () => {}, stop: () => {} };
  if (!stream.isTTY) return lineTaskProgress(label, total, stream, opts.unit ?? '', opts.everySec ?? 30);
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

/** Plain progress lines: `label done/total unit | rate/s | ETA`, at most one per `everySec` seconds. */
function lineTaskProgress(label: string, total: number, stream: NodeJS.WritableStream, unit: string, everySec: number): TaskProgress {
  const t0 = performance.now();
  let last = t0;
  return {
    update(done: number) {
      const now = performance.now();
      if (now - last < everySec * 1000 || done >= total) return;
      last = now;
      const rate = done / Math.max((now - t0) / 1000, 1e-9);
      const eta = rate > 0 ? (total - done) / rate : NaN;
      const etaText = Number.isFinite(eta) ? `${Math.floor(eta / 60)}m${String(Math.round(eta % 60)).padStart(2, '0')}s` : '-';
      stream.write(`${label} ${done}/${total}${unit ? ` ${unit}` : ''} | ${rate.toFixed(2)}/s | ETA ${etaText}\n`);
    },
    stop() {},
  };
}
