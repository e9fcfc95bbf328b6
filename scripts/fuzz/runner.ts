/**
 * The fuzz driver shared by `scripts/fuzz/run.ts` and `test/fuzz/loaders.test.ts`: writes each mutant to a
 * temporary file, has a child process load it with the project's loader, and sorts the outcome into clear errors,
 * accepted inputs, unclear errors, silent drops, hangs (no answer within the timeout: the child is killed) and
 * aborts (the child died: V8 heap exhaustion, a native abort).
 */
import { ChildProcess, fork } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { COCO_CASES, FuzzFormat, formatSpecs, makeMutant } from './formats';
import { Unclarity, unclarity } from './loaders';

/** Counts per format. */
export interface FuzzCounts {
  inputs: number;
  clearErrors: number;
  accepted: number;
  unclearErrors: number;
  silentDrops: number;
  hangs: number;
  aborts: number;
}

/** One input that was not handled well, with enough to reproduce it. */
export interface FuzzFinding {
  format: FuzzFormat;
  index: number;
  kind: 'unclear' | 'silentDrop' | 'hang' | 'abort';
  /** Unclarity, drop description, or exit status. */
  detail: string;
  message?: string;
  seedFile: string;
  mutation: string;
  /** Where the input was kept (`keepDir`), if asked. */
  kept?: string;
}

export interface FuzzOptions {
  formats: readonly FuzzFormat[];
  /** Mutations per format. */
  count: number;
  /** Index of the first mutation (default 0): a run split in parts covers indices from..from+count-1. */
  from?: number;
  /** Run seed: the same seed gives the same inputs. */
  seed: number;
  /** Per-input time limit, ms (an input still running is a hang). */
  timeoutMs: number;
  /** Child processes run in parallel. */
  workers: number;
  /** V8 heap limit of the children, MiB (exceeding it aborts the child: counted as an abort). */
  maxOldSpaceMb?: number;
  /** Copy the inputs behind findings here. */
  keepDir?: string;
  /** Stop starting inputs after this many seconds (the counts say how many ran). */
  maxSeconds?: number;
  /** Called after each input. */
  onProgress?: (done: number, total: number) => void;
}

interface Pending {
  id: number;
  format: FuzzFormat;
  index: number;
  file: string;
  seedIndex: number;
  seedFile: string;
  what: string;
  mustEqualSeed: boolean;
  resolve: () => void;
  timer?: NodeJS.Timeout;
}

const CHILD = path.join(__dirname, 'child.ts');

class Child {
  private proc!: ChildProcess;
  private ready!: Promise<void>;
  private pending?: Pending;
  constructor(
    private readonly opts: FuzzOptions,
    private readonly record: (p: Pending, outcome: { kind: 'answer'; msg: Record<string, unknown> } | { kind: 'hang' } | { kind: 'abort'; detail: string }) => void,
  ) {
    this.spawn();
  }

  private spawn(): void {
    this.proc = fork(CHILD, [], {
      execArgv: ['--import', 'tsx', `--max-old-space-size=${this.opts.maxOldSpaceMb ?? 2048}`],
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      serialization: 'advanced',
    });
    this.ready = new Promise((resolve) => {
      this.proc.once('message', () => resolve());
    });
    this.proc.on('message', (msg: Record<string, unknown>) => {
      const p = this.pending;
      if (!p || msg.id !== p.id) return;
      this.pending = undefined;
      clearTimeout(p.timer);
      this.record(p, { kind: 'answer', msg });
      p.resolve();
    });
    this.proc.on('exit', (code, signal) => {
      const p = this.pending;
      if (!p) return;
      this.pending = undefined;
      clearTimeout(p.timer);
      this.record(p, { kind: 'abort', detail: signal ? `signal ${signal}` : `exit code ${code}` });
      this.spawn();
      p.resolve();
    });
  }

  async run(p: Pending): Promise<void> {
    await this.ready;
    await new Promise<void>((resolve) => {
      this.pending = { ...p, resolve };
      this.pending.timer = setTimeout(() => {
        const q = this.pending;
        if (!q) return;
        this.pending = undefined;
        this.record(q, { kind: 'hang' });
        this.proc.removeAllListeners('exit');
        this.proc.kill('SIGKILL');
        this.spawn();
        resolve();
      }, this.opts.timeoutMs);
      this.proc.send({ id: p.id, format: p.format, file: p.file, seedIndex: p.seedIndex, mustEqualSeed: p.mustEqualSeed });
    });
  }

  close(): void {
    this.proc.removeAllListeners('exit');
    this.proc.kill();
  }
}

/**
 * Run `count` mutations of each format through the loaders, formats interleaved (mutation i of every format before
 * mutation i + 1), so a run cut short by `maxSeconds` has covered every format; returns counts per format (`inputs`
 * says how many ran) and the findings.
 */
export async function runFuzz(opts: FuzzOptions): Promise<{ counts: Record<string, FuzzCounts>; findings: FuzzFinding[] }> {
  const specs = formatSpecs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resvision-fuzz-'));
  const counts: Record<string, FuzzCounts> = {};
  for (const f of opts.formats) counts[f] = { inputs: 0, clearErrors: 0, accepted: 0, unclearErrors: 0, silentDrops: 0, hangs: 0, aborts: 0 };
  const findings: FuzzFinding[] = [];
  const keep = (p: Pending): string | undefined => {
    if (!opts.keepDir) return undefined;
    fs.mkdirSync(opts.keepDir, { recursive: true });
    const to = path.join(opts.keepDir, path.basename(p.file));
    fs.copyFileSync(p.file, to);
    return to;
  };
  const record: ConstructorParameters<typeof Child>[1] = (p, o) => {
    const c = counts[p.format];
    c.inputs++;
    const base = { format: p.format, index: p.index, seedFile: p.seedFile, mutation: p.what };
    if (o.kind === 'hang') {
      c.hangs++;
      findings.push({ ...base, kind: 'hang', detail: `no answer in ${opts.timeoutMs} ms`, kept: keep(p) });
    } else if (o.kind === 'abort') {
      c.aborts++;
      findings.push({ ...base, kind: 'abort', detail: o.detail, kept: keep(p) });
    } else if (o.msg.outcome === 'accepted') {
      if (typeof o.msg.dropped === 'string') {
        c.silentDrops++;
        findings.push({ ...base, kind: 'silentDrop', detail: o.msg.dropped, kept: keep(p) });
      } else c.accepted++;
    } else {
      const other = p.format === 'cocoInstances' ? COCO_CASES[p.seedIndex].dt : p.format === 'cocoResults' ? COCO_CASES[p.seedIndex].gt : undefined;
      const why: Unclarity | undefined = unclarity({ name: o.msg.name as string, message: o.msg.message as string }, p.file, other);
      if (why === undefined) c.clearErrors++;
      else {
        c.unclearErrors++;
        findings.push({ ...base, kind: 'unclear', detail: why, message: String(o.msg.message).slice(0, 400), kept: keep(p) });
      }
    }
  };
  const jobs: Omit<Pending, 'resolve'>[] = [];
  let id = 0;
  const from = opts.from ?? 0;
  for (let index = from; index < from + opts.count; index++) {
    for (const format of opts.formats) jobs.push({ id: id++, format, index, file: '', seedIndex: 0, seedFile: '', what: '', mustEqualSeed: false });
  }
  const children = Array.from({ length: Math.max(1, opts.workers) }, () => new Child(opts, record));
  let next = 0;
  let done = 0;
  const deadline = opts.maxSeconds === undefined ? Infinity : performance.now() + opts.maxSeconds * 1000;
  try {
    await Promise.all(
      children.map(async (child) => {
        while (next < jobs.length && performance.now() < deadline) {
          const job = jobs[next++];
          const m = makeMutant(specs, job.format, opts.seed, job.index);
          const file = path.join(dir, `${job.format}_${String(job.index).padStart(5, '0')}${m.ext}`);
          fs.writeFileSync(file, m.bytes);
          await child.run({ ...job, file, seedIndex: m.seedIndex, seedFile: m.seedFile, what: m.what, mustEqualSeed: m.mustEqualSeed, resolve: () => {} });
          fs.rmSync(file, { force: true });
          opts.onProgress?.(++done, jobs.length);
        }
      }),
    );
  } finally {
    for (const c of children) c.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { counts, findings };
}
