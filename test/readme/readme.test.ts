/**
 * The README works as written:
 * - every fenced `ts` block compiles with the repository's TypeScript settings (`import ... from 'resvision'` mapped to
 *   `src/index.ts`, as the package's `main` maps it to the build) and runs with tsx; the feature-extractor block
 *   prints the shapes derived by hand below, which are also the `text` block the README shows after it;
 * - the `eval-seg` example on the bundled oracle prints the table shown, whose numbers are the NumPy reference's
 *   (`test/fixtures/voc_seg_oracle/expected.json`) rounded to 2 decimals;
 * - the Command line section shows `resvision --help` as the CLI prints it, and names every subcommand and every
 *   long option of each.
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

/** A fenced block: its language tag, its text, and the index just past it in the README. */
interface Fence {
  lang: string;
  body: string;
  start: number;
  end: number;
}

/** Every fenced block of a Markdown text, in order. */
function fences(md: string): Fence[] {
  const out: Fence[] = [];
  const re = /^```(\w*)\n([\s\S]*?)^```\s*$/gm;
  for (let m = re.exec(md); m; m = re.exec(md)) out.push({ lang: m[1], body: m[2], start: m.index, end: m.index + m[0].length });
  return out;
}

/** The text of a Markdown section, from its heading to the next heading of the same or a higher level. */
function section(md: string, heading: string): string {
  const level = heading.match(/^#+/)![0].length;
  const start = md.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no section '${heading}'`);
  const rest = md.slice(start + heading.length + 2);
  const next = new RegExp(`^#{1,${level}} `, 'm').exec(rest);
  return next ? rest.slice(0, next.index) : rest;
}

/** The `text` block right after `fence` (only blank lines between), if any. */
function outputAfter(all: Fence[], fence: Fence): string | undefined {
  const next = all.find((f) => f.start > fence.start);
  if (!next || next.lang !== 'text' || README.slice(fence.end, next.start).trim() !== '') return undefined;
  return next.body;
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

  describe('TypeScript blocks compile and run', () => {
    const tsBlocks = all.filter((f) => f.lang === 'ts');
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

    it('the README holds the feature-extractor block', () => {
      expect(tsBlocks.length).to.be.at.least(1);
      expect(tsBlocks.some((f) => f.body.includes("from 'resvision'") && f.body.includes('featureSpecs()'))).to.equal(true);
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
        expect(run.status, run.stderr).to.equal(0);
        const shown = outputAfter(all, f);
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
    const job = section(README, '### Run VOC segmentation evaluation');
    const cmd = all.find((f) => f.lang === 'sh' && job.includes(f.body) && f.body.includes('eval-seg --gt test/fixtures/voc_seg_oracle'))!;
    expect(cmd, 'the eval-seg example on the bundled oracle').to.not.equal(undefined);
    const words = shellWords(cmd.body);
    expect(words.slice(0, 2)).to.deep.equal(['npx', 'resvision']);
    const out = await runCli(words.slice(2));
    expect(out).to.equal(outputAfter(all, cmd));
    const ref = JSON.parse(fs.readFileSync(path.join(REPO, 'test/fixtures/voc_seg_oracle/expected.json'), 'utf8'));
    const pct = (v: number | null) => (v === null ? 'n/a' : (100 * v).toFixed(2));
    const rows = out.split('\n').slice(1, 22).map((l) => l.trim().split(/\s+/));
    expect(rows.map((r) => [r[1], r[2]])).to.deep.equal(ref.IoU.map((iou: number | null, k: number) => [pct(iou), pct(ref.Acc[k])]));
    expect(out).to.contain(`aAcc ${pct(ref.aAcc)}  mIoU ${pct(ref.mIoU)}  mAcc ${pct(ref.mAcc)}  (5 images, percent)`);
  });

  it('Command line section: `resvision --help` as printed, every subcommand and long option named', () => {
    const text = section(README, '## Command line');
    const program = buildProgram();
    const helpBlock = fences(text).find((f) => f.lang === '')!;
    expect(helpBlock.body.trimEnd()).to.equal(program.helpInformation().trimEnd());
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
});
