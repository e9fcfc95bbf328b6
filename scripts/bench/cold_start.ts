/**
 * Cold start of the `resvision` command: wall time of a fresh process for `--version`, `--help`, each subcommand's
 * `--help`, `eval-coco` on a generated 100-image bbox case (80 categories, ~740 boxes, 5,000 detections) and
 * `plot-curves` on a generated 30-step log to PNG, as the installed command runs them (`node bin/resvision.js`, the
 * compiled dist/). Next to each figure: the packages the command loaded (from a separate, untimed run with a preload
 * that lists `require.cache` at exit), so what makes a command slow is visible. Side by side in the same run: the
 * floor (`node -e 0`) and, when python3 can import pycocotools, pycocotools on the same case
 * (scripts/bench/cocoeval_reference.py, Python start-up included).
 *
 * Prints one JSON object. Say which machine and load each figure was taken under: the object carries the CPU model,
 * core count and /proc/loadavg before and after.
 *
 * Usage: npx tsx scripts/bench/cold_start.ts [--runs 7] [--no-build]   (builds dist/ first unless --no-build)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { SeedSequence } from '../../src/common/seed';
import { arg } from './common';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'resvision.js');

/** A COCO-like bbox case: `nImages` images, 80 categories with ids 1..90 with holes, ~7.4 boxes and 50 detections per image. */
export function generateCase(dir: string, seed: number, nImages: number): { gtPath: string; dtPath: string; gtBoxes: number; detections: number } {
  const rng = new SeedSequence(seed);
  const catIds = Array.from({ length: 90 }, (_, i) => i + 1).filter((id) => id % 9 !== 0).slice(0, 80);
  const images = [];
  const annotations = [];
  const results = [];
  for (let i = 0; i < nImages; i++) {
    const id = 100000 + 7 * i;
    const [w, h] = [480 + rng.int(160), 360 + rng.int(160)];
    images.push({ id, width: w, height: h, file_name: `${id}.jpg` });
    const boxes: { cat: number; box: number[] }[] = [];
    const nGt = Math.floor(14.8 * rng.uniform() + 0.5);
    for (let g = 0; g < nGt; g++) {
      const bw = 8 + rng.uniform() * (w / 2);
      const bh = 8 + rng.uniform() * (h / 2);
      const box = [rng.uniform() * (w - bw), rng.uniform() * (h - bh), bw, bh];
      const cat = catIds[rng.int(catIds.length)];
      boxes.push({ cat, box });
      annotations.push({ id: annotations.length + 1, image_id: id, category_id: cat, bbox: box, area: bw * bh, iscrowd: rng.uniform() < 0.01 ? 1 : 0 });
    }
    for (let d = 0; d < 50; d++) {
      // Half the detections jitter a ground-truth box (matches at various IoUs), the rest are anywhere.
      const src = boxes.length > 0 && d % 2 === 0 ? boxes[rng.int(boxes.length)] : null;
      const j = (v: number, s: number): number => v + (rng.uniform() - 0.5) * s;
      const box = src
        ? [j(src.box[0], 0.2 * src.box[2]), j(src.box[1], 0.2 * src.box[3]), src.box[2] * (0.8 + 0.4 * rng.uniform()), src.box[3] * (0.8 + 0.4 * rng.uniform())]
        : [rng.uniform() * w * 0.8, rng.uniform() * h * 0.8, 8 + rng.uniform() * w * 0.3, 8 + rng.uniform() * h * 0.3];
      results.push({ image_id: id, category_id: src ? src.cat : catIds[rng.int(catIds.length)], bbox: box.map((v) => Math.round(v * 100) / 100), score: Math.round(rng.uniform() * 1000) / 1000 });
    }
  }
  const gtPath = path.join(dir, 'instances.json');
  const dtPath = path.join(dir, 'results.json');
  fs.writeFileSync(gtPath, JSON.stringify({ images, annotations, categories: catIds.map((id) => ({ id, name: `class_${id}`, supercategory: 'none' })) }));
  fs.writeFileSync(dtPath, JSON.stringify(results));
  return { gtPath, dtPath, gtBoxes: annotations.length, detections: results.length };
}

/** Median and minimum wall time (ms) of `runs` fresh processes of `cmd args`; throws if one exits non-zero. */
function timeProcess(cmd: string, args: string[], runs: number): { medianMs: number; minMs: number } {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}: ${r.stderr.trim().split('\n').pop()}`);
  }
  times.sort((a, b) => a - b);
  return { medianMs: Math.round(times[Math.floor(times.length / 2)]), minMs: Math.round(times[0]) };
}

/** The packages under node_modules a run of `bin/resvision.js args` loads, found by a preload that lists require.cache at exit. */
function packagesLoaded(preload: string, args: string[]): string[] {
  const r = spawnSync(process.execPath, ['--require', preload, BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const line = r.stderr.split('\n').find((l) => l.startsWith('PACKAGES_LOADED '));
  return line ? (JSON.parse(line.slice('PACKAGES_LOADED '.length)) as string[]) : [];
}

const PRELOAD = `
process.on('exit', () => {
  const names = new Set();
  for (const f of Object.keys(require.cache)) {
    const m = /node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/.exec(f.slice(f.lastIndexOf('node_modules')));
    if (m) names.add(m[1].replace(/\\\\/g, '/'));
  }
  process.stderr.write('PACKAGES_LOADED ' + JSON.stringify([...names].sort()) + '\\n');
});
`;

function loadavg(): string {
  try {
    return fs.readFileSync('/proc/loadavg', 'utf8').trim();
  } catch {
    return os.loadavg().map((v) => v.toFixed(2)).join(' ');
  }
}

/** A detection run's metrics.jsonl for `plot-curves`: 30 logged steps of 3 loss terms, 3 evaluations of 5 metrics. */
function writeTrainingLog(dir: string): string {
  const lines: string[] = [];
  for (let it = 9; it < 300; it += 10) {
    const t = (it + 1) / 300;
    const losses = { classification: 1.2 * Math.exp(-2 * t) + 0.25, boxRegression: 0.7 * Math.exp(-1.5 * t) + 0.2 };
    lines.push(JSON.stringify({ type: 'train', iteration: it, losses, totalLoss: losses.classification + losses.boxRegression, lr: 0.01 }));
    if ((it + 1) % 100 === 0) {
      lines.push(JSON.stringify({ type: 'eval', iteration: it, metrics: { AP: 30 * t * t, AP50: 55 * t, AP75: 25 * t * t, APm: 20 * t, APl: 35 * t } }));
    }
  }
  const file = path.join(dir, 'metrics.jsonl');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function main(): void {
  const runs = Number(arg('runs', '7'));
  if (!process.argv.includes('--no-build')) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  if (!fs.existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` or leave out --no-build');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resvision-cold-start-'));
  try {
    const preload = path.join(dir, 'preload.js');
    fs.writeFileSync(preload, PRELOAD);
    const example = generateCase(dir, 2024, 100);
    const help = execFileSync(process.execPath, [BIN, '--help'], { cwd: ROOT, encoding: 'utf8' });
    const subcommands = help
      .slice(help.indexOf('Commands:'))
      .split('\n')
      .slice(1)
      .map((l) => /^ {2}([a-z][\w-]*)/.exec(l)?.[1])
      .filter((c): c is string => Boolean(c) && c !== 'help');
    const curveLog = writeTrainingLog(dir);
    const commands: string[][] = [
      ['--version'],
      ['--help'],
      ...subcommands.map((c) => [c, '--help']),
      ['eval-coco', example.gtPath, example.dtPath, '--iou-type', 'bbox'],
      ['plot-curves', curveLog, '--out', path.join(dir, 'curve.png')],
    ];
    const load = { before: loadavg(), after: '' };
    const floor = timeProcess(process.execPath, ['-e', '0'], runs);
    const rows = commands.map((args) => {
      const shown = args.map((a) => (a === example.gtPath ? 'GT.json' : a === example.dtPath ? 'RESULTS.json' : a.startsWith(dir) ? path.basename(a) : a)).join(' ');
      const t = timeProcess(process.execPath, [BIN, ...args], runs);
      const pkgs = packagesLoaded(preload, args);
      return {
        command: `resvision ${shown}`,
        ...t,
        loadsTfjs: pkgs.some((p) => p.startsWith('@tensorflow/')),
        loadsSharp: pkgs.includes('sharp') || pkgs.some((p) => p.startsWith('@img/')),
        packages: pkgs,
      };
    });
    // The same evaluation through the light library entry (dist/src/coco.js, no package loaded): what eval-coco
    // costs once the CLI loads only what it needs.
    const viaLibrary = [
      `const c = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'coco.js'))});`,
      `const gt = c.Coco.fromFile(${JSON.stringify(example.gtPath)});`,
      `const E = new c.CocoEval(gt, gt.loadRes(${JSON.stringify(example.dtPath)}), 'bbox');`,
      `E.evaluate(); E.accumulate(); process.stdout.write(E.summarize().lines.join('\\n'));`,
    ].join(' ');
    const library = { command: "node -e \"require('resvision/coco') ... evaluate, accumulate, summarize\" (same case)", ...timeProcess(process.execPath, ['-e', viaLibrary], runs) };
    // What each heavy dependency costs to load on its own (a fresh process each), to see where a command's time goes.
    const moduleLoads = [
      ['commander', "require('commander')"],
      ['@tensorflow/tfjs-core', "require('@tensorflow/tfjs-core')"],
      ['@tensorflow/tfjs-core + tfjs-backend-cpu', "require('@tensorflow/tfjs-core'); require('@tensorflow/tfjs-backend-cpu')"],
      ['@tensorflow/tfjs-backend-wasm (with tfjs-core)', "require('@tensorflow/tfjs-core'); require('@tensorflow/tfjs-backend-wasm')"],
      ['sharp', "require('sharp')"],
      ['resvision/coco (dist/src/coco.js)', `require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'coco.js'))})`],
    ].map(([name, code]) => ({ module: name, ...timeProcess(process.execPath, ['-e', code], runs) }));
    let reference: Record<string, unknown>;
    if (spawnSync('python3', ['-c', 'import pycocotools'], { encoding: 'utf8' }).status === 0) {
      const ref = timeProcess('python3', [path.join(__dirname, 'cocoeval_reference.py'), example.gtPath, example.dtPath], runs);
      reference = { implementation: 'pycocotools (python3 cocoeval_reference.py, start-up included)', ...ref };
    } else {
      reference = { implementation: 'pycocotools', available: false, reason: 'python3 cannot import pycocotools here' };
    }
    load.after = loadavg();
    const report = {
      machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, loadavg: load },
      runsPerCommand: runs,
      example: { images: 100, categories: 80, gtBoxes: example.gtBoxes, detections: example.detections },
      floor: { command: 'node -e 0', ...floor },
      commands: rows,
      evalCocoViaLibraryEntry: library,
      moduleLoads,
      evalCocoReference: reference,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) main();
