/**
 * Helpers shared by the benchmark scripts: command-line options, median timing and running a Python reference
 * implementation (torchvision, NumPy/PIL) that prints its result as the last line of JSON.
 */
import { execFileSync } from 'child_process';

/** The value after `--name` on the command line, or `fallback` when the option is absent. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/**
 * Median wall time of `fn` in milliseconds over `repeats` runs, after `warmup` untimed runs (the first runs of a
 * model compile kernels and grow the heap).
 */
export async function medianMs(fn: () => Promise<void>, warmup: number, repeats: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * Run a Python reference script with `/usr/bin/python3` and parse the JSON object on its last line of output.
 * @returns the parsed object, or `{ error }` saying why the reference could not run (no python3, no torch, ...),
 *   so that a benchmark still prints its own numbers on machines without the reference.
 */
export function pythonReference(script: string, args: string[]): Record<string, unknown> {
  try {
    const out = execFileSync('/usr/bin/python3', [script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
  } catch (e) {
    return { error: `reference unavailable: ${String((e as Error).message).split('\n')[0]}` };
  }
}
