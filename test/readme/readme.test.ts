/**
 * The README and the pages of docs/ work as written:
 * - every fenced `ts` block of README.md and docs/*.md compiles with the repository's TypeScript settings
 *   (`import ... from 'resvision'` mapped to `src/index.ts`, as the package's `main` maps it to the build) and runs
 *   with tsx, printing the `text` block shown right after it, if any; the feature-extractor block prints the shapes
 *   derived by hand below;
 * - the `eval-seg` example on the bundled oracle prints the table shown (rows elided with `...` in the README are
 *   printed too), whose numbers are the NumPy reference's (`test/fixtures/voc_seg_oracle/expected.json`) rounded to
 *   2 decimals;
 * - docs/cli.md shows `resvision --help` as the CLI prints it, and the README's Command line section names every
 *   subcommand and every long option of each;
 * - every relative link of README.md and docs/*.md names a file of the repository, and every `#anchor` a heading of
 *   the page it points to (GitHub's heading ids).
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { buildProgram } from '../../src/cli/main';
import { resnet50 } from '../../src/backbone/resnet';
import { exportTorchvisionWeights } from '../../src/weights/torchvision';

const REPO = path.resolve(__dirname, '../..');
const README = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
/** The Markdown pages checked here, by path relative to the repository: the README, then docs/*.md. */
const PAGES: Record<string, string> = Object.fromEntries(
  ['README.md', ...fs.readdirSync(path.join(REPO, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)].map((p) => [
    p,
    fs.readFileSync(path.join(REPO, p), 'utf8'),
  ]),
);

/** A fenced block: its language tag, its text, where it starts and the index just past it in its page. */
interface Fence {
  lang: string;
  body: string;
  start: number;
  end: number;
  /** The page it is in: README.md or docs/NAME.md. */
  page: string;
}

/** Every fenced block of a Markdown text, in order. */
function fences(md: string, page = 'README.md'): Fence[] {
  const out: Fence[] = [];
  const re = /^```(\w*)\n([\s\S]*?)^```\s*$/gm;
  for (let m = re.exec(md); m; m = re.exec(md)) out.push({ lang: m[1], body: m[2], start: m.index, end: m.index + m[0].length, page });
  return out;
}

/** The text of a Markdown section, from its heading to the next heading of the same or a higher level. */
function section(md: string, heading: string): string {
  const level = heading.match(/^#+/)![0].length;
  const start = md.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no section '${heading}'`);
  const rest = md.slice(start + heading.length + 2);
  const next = new RegExp(`^#{1,${level}} `, 'm').exec(rest);
  return next ? rest.slice(0, next.index) : rest;
}

/** The `text` block right after `fence` in its page (only blank lines between), if any. */
function outputAfter(all: Fence[], fence: Fence): string | undefined {
  const next = all.find((f) => f.page === fence.page && f.start > fence.start);
  if (!next || next.lang !== 'text' || PAGES[fence.page].slice(fence.end, next.start).trim() !== '') return undefined;
  return next.body;
}

/** GitHub's id of a heading: lower case, punctuation but `-` and `_` dropped, spaces as `-`; repeats get `-1`, `-2`. */
function headingIds(md: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of md.replace(/^```[\s\S]*?^```\s*$/gm, '').split('\n')) {
    const m = /^#{1,6} +(.+?) *#* *$/.exec(line);
    if (!m) continue;
    const base = m[1].toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    ids.add(n === 0 ? base : `${base}-${n}`);
  }
  return ids;
}

/** The targets of a Markdown page's inline links, outside fenced blocks and code spans. */
function linkTargets(md: string): string[] {
  const text = md.replace(/^```[\s\S]*?^```\s*$/gm, '').replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
}

/** Run the CLI in this process from the repository root; returns stdout. */
async function runCli(args: string[]): Promise<string> {
  const chunks: string[] = [];
  const wout = process.stdout.write.bind(process.stdout);
  (process.stdout as { write: unknown }).write = (c: string | Uint8Array) => (chunks.push(String(c)), true);
  const cwd = process.cwd();
  process.chdir(REPO);
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'resvision', ...args]);
  } finally {
    process.chdir(cwd);
    (process.stdout as { write: unknown }).write = wout;
  }
  return chunks.join('');
}

/** Split a shell command line (no quotes in the README's commands; `\` continuations joined). */
function shellWords(cmd: string): string[] {
  return cmd.replace(/\\\n/g, ' ').trim().split(/\s+/);
}

describe('README', function () {
  this.timeout(300_000);
  const all = fences(README);
  const allPages = Object.entries(PAGES).flatMap(([page, md]) => fences(md, page));

  describe('TypeScript blocks of the README and docs/ compile and run', () => {
    const tsBlocks = allPages.filter((f) => f.lang === 'ts');
    // The repository's `.gitignore` ignores /tmp/: the blocks are written there, inside the repository, so that
    // `@tensorflow/tfjs` and the TypeScript settings resolve as for any file of the project.
    const dir = path.join(REPO, 'tmp', `readme-${process.pid}`);

    before(async () => {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({
          extends: '../../tsconfig.json',
          compilerOptions: {
            noEmit: true,
            rootDir: '../..',
            types: ['node'],
            paths: { resvision: ['../../src/index.ts'], 'resvision/coco': ['../../src/coco.ts'] },
          },
          include: ['*.ts'],
        }),
      );
      tsBlocks.forEach((f, i) => fs.writeFileSync(path.join(dir, `readme_block_${i + 1}.ts`), f.body));
      // The files the COCO evaluation block reads: a pycocotools parity case, whose expected.json the shown output matches.
      fs.copyFileSync(path.join(REPO, 'test', 'fixtures', 'coco', 'case001_06', 'gt.json'), path.join(dir, 'instances_val2017.json'));
      fs.copyFileSync(path.join(REPO, 'test', 'fixtures', 'coco', 'case001_06', 'dt.json'), path.join(dir, 'detections.json'));
      // The weight file the feature-extractor block loads: a ResNet-50 state dict with torchvision's names and
      // layouts (random initialization: the block's output is shapes, not values).
      const model = resnet50();
      try {
        await exportTorchvisionWeights(model, path.join(dir, 'resnet50.safetensors'));
      } finally {
        model.dispose();
      }
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('the README holds the feature-extractor block; docs/export.md the ONNX Runtime block', () => {
      expect(tsBlocks.length).to.be.at.least(1);
      const readmeBlocks = tsBlocks.filter((f) => f.page === 'README.md');
      expect(readmeBlocks.some((f) => f.body.includes("from 'resvision'") && f.body.includes('featureSpecs()'))).to.equal(true);
      expect(tsBlocks.some((f) => f.page === 'docs/export.md' && f.body.includes('OnnxRuntimeModel.create'))).to.equal(true);
    });

    it('tsc: every block type-checks (strict, module nodenext)', () => {
      const tsc = spawnSync(path.join(REPO, 'node_modules', '.bin', 'tsc'), ['-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8' });
      expect(tsc.status, `${tsc.stdout}${tsc.stderr}`).to.equal(0);
    });

    it('tsx: every block runs; the feature extractor prints the shapes of a [1, 224, 224, 3] input', () => {
      tsBlocks.forEach((f, i) => {
        const run = spawnSync(path.join(REPO, 'node_modules', '.bin', 'tsx'), ['--tsconfig', 'tsconfig.json', `readme_block_${i + 1}.ts`], {
          cwd: dir,
          encoding: 'utf8',
        });
        expect(run.status, `${f.page}, block ${i + 1}: ${run.stderr}`).to.equal(0);
        const shown = outputAfter(allPages, f);
        if (shown !== undefined) expect(run.stdout).to.equal(shown);
        if (!f.body.includes('featureSpecs()')) return;
        // ResNet-50: 53 convolutions (stem 1, 16 bottlenecks x 3, 4 downsample) and 53 BatchNorms of 4 tensors each
        // (weight, bias, running_mean, running_var) = 265; num_batches_tracked and fc.* are ignored.
        // 224 px: C2..C4 at strides 4, 8, 16 = 56, 28, 14 px; C5 dilated keeps stride 16 = 14 px; channels
        // 256, 512, 1024, 2048 (bottleneck expansion 4 x 64, 128, 256, 512).
        expect(run.stdout).to.equal(
          [
            'loaded 265 tensors from resnet50.safetensors',
            'C2: [1,56,56,256], stride 4',
            'C3: [1,28,28,512], stride 8',
            'C4: [1,14,14,1024], stride 16',
            'C5: [1,14,14,2048], stride 16',
            'embedding: [1,2048]',
            '',
          ].join('\n'),
        );
      });
    });
  });

  it("COCO library block: the 12 numbers shown are pycocotools' (test/fixtures/coco/case001_06/expected.json)", () => {
    const block = all.find((f) => f.lang === 'ts' && f.body.includes("from 'resvision/coco'"));
    expect(block, 'a ts block importing resvision/coco').to.not.equal(undefined);
    const shown = outputAfter(all, block!);
    const expected = JSON.parse(fs.readFileSync(path.join(REPO, 'test', 'fixtures', 'coco', 'case001_06', 'expected.json'), 'utf8')) as { stats: number[] };
    expect(shown!.trim().split('\n').map((l) => l.split(' = ')[1])).to.deep.equal(expected.stats.map((v) => v.toFixed(3)));
  });

  it('eval-seg example: prints the table shown, the NumPy reference rounded to 2 decimals', async () => {
    const job = section(README, '## Run VOC segmentation evaluation');
    const cmd = all.find((f) => f.lang === 'sh' && job.includes(f.body) && f.body.includes('eval-seg --gt test/fixtures/voc_seg_oracle'))!;
    expect(cmd, 'the eval-seg example on the bundled oracle').to.not.equal(undefined);
    const words = shellWords(cmd.body);
    expect(words.slice(0, 2)).to.deep.equal(['npx', 'resvision']);
    const out = await runCli(words.slice(2));
    // The README shows the table with rows elided as '...': every line shown is printed, in the order shown.
    const shown = outputAfter(all, cmd)!.split('\n');
    const printed = out.split('\n');
    let at = 0;
    for (const line of shown.filter((l) => l !== '...')) {
      const found = printed.indexOf(line, at);
      expect(found, `README line '${line}' is printed after line ${at}`).to.be.at.least(0);
      at = found + 1;
    }
    expect(shown.filter((l) => l !== '...').length, 'lines shown').to.be.at.least(10);
    const ref = JSON.parse(fs.readFileSync(path.join(REPO, 'test/fixtures/voc_seg_oracle/expected.json'), 'utf8'));
    const pct = (v: number | null) => (v === null ? 'n/a' : (100 * v).toFixed(2));
    const rows = out.split('\n').slice(1, 22).map((l) => l.trim().split(/\s+/));
    expect(rows.map((r) => [r[1], r[2]])).to.deep.equal(ref.IoU.map((iou: number | null, k: number) => [pct(iou), pct(ref.Acc[k])]));
    expect(out).to.contain(`aAcc ${pct(ref.aAcc)}  mIoU ${pct(ref.mIoU)}  mAcc ${pct(ref.mAcc)}  (5 images, percent)`);
  });

  it('docs/cli.md shows `resvision --help` as printed; the README Command line section names every subcommand and long option', () => {
    const text = section(README, '## Command line');
    const program = buildProgram();
    const helpBlock = fences(section(PAGES['docs/cli.md'], '## `resvision --help`'), 'docs/cli.md').find((f) => f.lang === '');
    expect(helpBlock, 'docs/cli.md: a plain fenced block under "## `resvision --help`"').to.not.equal(undefined);
    expect(helpBlock!.body.trimEnd()).to.equal(program.helpInformation().trimEnd());
    const missing: string[] = [];
    const visit = (c: Command, prefix: string) => {
      for (const sub of c.commands) {
        const name = `${prefix}${sub.name()}`;
        if (!new RegExp('`' + name + '[ `]').test(text)) missing.push(name);
        for (const o of sub.options) if (o.long && !text.includes(o.long)) missing.push(`${name} ${o.long}`);
        visit(sub, `${name} `);
      }
    };
    visit(program, '');
    expect(missing).to.deep.equal([]);
  });

  it('links: every relative link of README.md and docs/*.md names a file, and every #anchor a heading of its page', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const [page, md] of Object.entries(PAGES)) {
      for (const target of linkTargets(md)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        checked++;
        const [file, anchor] = target.split('#');
        const resolved = file === '' ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), file));
        if (!fs.existsSync(path.join(REPO, resolved))) {
          broken.push(`${page}: ${target} (no file ${resolved})`);
          continue;
        }
        if (anchor === undefined) continue;
        const targetMd = PAGES[resolved] ?? fs.readFileSync(path.join(REPO, resolved), 'utf8');
        if (!headingIds(targetMd).has(anchor)) broken.push(`${page}: ${target} (no heading #${anchor} in ${resolved})`);
      }
    }
    expect(checked).to.be.greaterThan(30);
    expect(broken).to.deep.equal([]);
  });
});
