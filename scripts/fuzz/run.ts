/**
 * Fuzz every input format through the project's loaders and print JSON counts per format: clear errors, accepted
 * inputs, unclear errors (see `unclarity` in loaders.ts for the definition), silent drops, hangs and aborts.
 *
 *   npx tsx scripts/fuzz/run.ts [--count 2000] [--seed 1] [--formats pth,config] [--timeout-ms 10000]
 *                               [--workers 2] [--keep DIR] [--findings N] [--max-seconds S] [--from I]
 *
 * Each input runs in a child process: one that answers nothing within the timeout is a hang (killed, counted), one
 * that dies is an abort. `--keep DIR` copies the inputs behind findings there; the JSON lists the first N findings.
 * `--max-seconds S` stops starting inputs after S seconds (formats are interleaved, so each got its share; the
 * `inputs` count of each format says how many ran): COCO evaluation of the segm cases runs a few inputs a second.
 * `--from I` starts at mutation I, so a long run can be split into parts that together cover 0..count-1.
 * The suite's test/fuzz/loaders.test.ts runs the same driver on a few hundred mutations per format.
 */
import { FUZZ_FORMATS, FuzzFormat } from './formats';
import { runFuzz } from './runner';

interface Args {
  count: number;
  seed: number;
  formats: FuzzFormat[];
  timeoutMs: number;
  workers: number;
  keepDir?: string;
  findings: number;
  maxSeconds?: number;
  from: number;
}

function parseArgs(argv: string[]): Args {
  const o: Args = { count: 2000, seed: 1, formats: [...FUZZ_FORMATS], timeoutMs: 10_000, workers: 2, findings: 20, from: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    const int = (): number => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${a}: expected a non-negative integer, got '${v}'`);
      return n;
    };
    if (a === '--count') o.count = int();
    else if (a === '--seed') o.seed = int();
    else if (a === '--timeout-ms') o.timeoutMs = int();
    else if (a === '--workers') o.workers = Math.max(1, int());
    else if (a === '--findings') o.findings = int();
    else if (a === '--keep') o.keepDir = v;
    else if (a === '--max-seconds') o.maxSeconds = int();
    else if (a === '--from') o.from = int();
    else if (a === '--formats') {
      const fs = v.split(',');
      const bad = fs.filter((f) => !(FUZZ_FORMATS as readonly string[]).includes(f));
      if (bad.length) throw new Error(`--formats: unknown ${bad.join(', ')}; the formats are ${FUZZ_FORMATS.join(', ')}`);
      o.formats = fs as FuzzFormat[];
    } else throw new Error(`unknown option ${a}; see the comment at the top of scripts/fuzz/run.ts`);
  }
  return o;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  let last = 0;
  const { counts, findings } = await runFuzz({
    ...o,
    onProgress: (done, total) => {
      const now = performance.now();
      if (now - last > 5000 || done === total) {
        last = now;
        process.stderr.write(`${done}/${total} inputs\n`);
      }
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(
    `${JSON.stringify({ seed: o.seed, from: o.from, mutationsPerFormat: o.count, timeoutMs: o.timeoutMs, workers: o.workers, seconds: Math.round(seconds), counts, findings: findings.slice(0, o.findings) }, null, 1)}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`fuzz: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
