/**
 * `eval-seg` on the VOC segmentation oracle fixture (expected values from scripts/bench/eval_seg_reference.py,
 * NumPy + PIL), on CamVid-style pair lists with hand-derived metrics, class names and counts from options or a
 * config, and its errors: missing prediction, size mismatch, bad options, labels that do not fit K / ignore.
 */
import { expect } from 'chai';
import { Command } from 'commander';
import { encode } from 'fast-png';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { registerEvalSeg } from '../../src/cli/eval_seg';

const FIXTURE = path.resolve(__dirname, '..', 'fixtures', 'voc_seg_oracle');

/** What the last `runCli` wrote on stderr. */
let lastStderr = '';

async function runCli(args: string[]): Promise<string> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined });
  registerEvalSeg(program);
  let out = '';
  lastStderr = '';
  const write = process.stdout.write;
  const werr = process.stderr.write;
  process.stdout.write = ((chunk: string) => {
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => {
    lastStderr += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    await program.parseAsync(['node', 'resvision', 'eval-seg', ...args]);
  } finally {
    process.stdout.write = write;
    process.stderr.write = werr;
  }
  return out;
}

/** Write a mode-L (grayscale, no palette) 8-bit PNG, as SegNet's CamVid labels. */
function writeGray(file: string, height: number, width: number, values: number[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, encode({ width, height, data: Uint8Array.from(values), channels: 1, depth: 8 }));
}

async function errorOf(args: string[]): Promise<string> {
  try {
    await runCli(args);
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

describe('eval-seg CLI', () => {
  const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'expected.json'), 'utf-8')) as {
    IoU: (number | null)[];
    Acc: (number | null)[];
    aAcc: number;
    mIoU: number;
    mAcc: number;
  };
  const base = ['--gt', path.join(FIXTURE, 'gt'), '--pred', path.join(FIXTURE, 'pred')];
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-seg-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints the table with the reference IoU/Acc (percent, 2 decimals) and the means', async () => {
    const out = await runCli([...base, '--list', path.join(FIXTURE, 'list.txt')]);
    const pct = (v: number | null): string => (v === null ? 'n/a' : (100 * v).toFixed(2));
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).to.match(/^class\s+IoU\s+Acc$/);
    expect(lines[1].split(/\s+/)).to.deep.equal(['background', pct(expected.IoU[0]), pct(expected.Acc[0])]);
    expect(lines[7].split(/\s+/)).to.deep.equal(['bus', pct(expected.IoU[6]), pct(expected.Acc[6])]);
    expect(lines[21].split(/\s+/)).to.deep.equal(['tvmonitor', 'n/a', 'n/a']);
    expect(lines[23]).to.equal(`aAcc ${pct(expected.aAcc)}  mIoU ${pct(expected.mIoU)}  mAcc ${pct(expected.mAcc)}  (5 images, percent)`);
  });

  it('--json prints the metrics within 1e-12 of the reference', async () => {
    const m = JSON.parse(await runCli([...base, '--json'])) as typeof expected & { numImages: number };
    expect(m.numImages).to.equal(5);
    expect(m.mIoU).to.be.closeTo(expected.mIoU, 1e-12);
    expect(m.IoU.map((v) => v === null)).to.deep.equal(expected.IoU.map((v) => v === null));
  });

  it('a missing prediction is an error naming the count, the first file and --list', async () => {
    const pred = path.join(dir, 'pred_missing');
    fs.mkdirSync(pred);
    for (const f of fs.readdirSync(path.join(FIXTURE, 'pred'))) {
      if (f !== '2008_000011.png') fs.copyFileSync(path.join(FIXTURE, 'pred', f), path.join(pred, f));
    }
    const msg = await errorOf(['--gt', path.join(FIXTURE, 'gt'), '--pred', pred]);
    expect(msg).to.equal(
      `1 of 5 predictions are missing in '${pred}' (first: '${path.join(pred, '2008_000011.png')}'); ` +
        'to evaluate a subset, pass --list FILE naming the images predicted',
    );
    // --gt pointing at a folder without the label PNGs (here: the predictions' parent) says what --gt must be.
    const wrongGt = await errorOf(['--gt', dir, '--pred', path.join(FIXTURE, 'pred'), '--list', path.join(FIXTURE, 'list.txt')]);
    expect(wrongGt).to.match(/^ground truth: none of the \d+ label PNGs is in '.*' \(first: '.*'\); --gt must be the folder of label PNGs \(VOC: SegmentationClass\/\)$/);
  });

  it('a prediction of another size is an error naming both files and sizes', async () => {
    const pred = path.join(dir, 'pred_size');
    fs.mkdirSync(pred);
    for (const f of fs.readdirSync(path.join(FIXTURE, 'pred'))) fs.copyFileSync(path.join(FIXTURE, 'pred', f), path.join(pred, f));
    // 2010_000003 is 64 rows x 80 columns; write a 63 x 80 grayscale prediction instead.
    fs.writeFileSync(path.join(pred, '2010_000003.png'), encode({ width: 80, height: 63, data: new Uint8Array(80 * 63), channels: 1, depth: 8 }));
    const msg = await errorOf([...base.slice(0, 2), '--pred', pred]);
    expect(msg).to.equal(
      `prediction '${path.join(pred, '2010_000003.png')}' is 63x80 (HxW), its ground truth '${path.join(FIXTURE, 'gt', '2010_000003.png')}' 64x80: ` +
        "write predictions at the ground truth's size (as `resvision eval --out` does)",
    );
  });

  it('--max-mask-pixels: a label PNG above it is refused from its header, naming the file and the limit', async () => {
    const gt = path.join(FIXTURE, 'gt', '2007_000000.png');
    const msg = await errorOf([...base, '--list', path.join(FIXTURE, 'list.txt'), '--max-mask-pixels', '100']);
    expect(msg).to.match(new RegExp(`^mask '${gt.replace(/[.\\/]/g, '\\$&')}': \\d+x\\d+ \\(WxH\\) = \\d+ pixels exceeds the limit of 100 pixels`));
    expect(await errorOf([...base, '--max-mask-pixels', '0'])).to.match(/--max-mask-pixels must be an integer in 1\.\./);
  });

  it('rejects a non-integer --num-classes and an --ignore-index that is a class', async () => {
    expect(await errorOf([...base, '--num-classes', '2.5'])).to.match(/--num-classes must be an integer/);
    expect(await errorOf([...base, '--ignore-index', '3'])).to.match(/ignoreIndex must be an integer outside 0\.\.20/);
  });
});

describe('eval-seg CLI on CamVid-style data', () => {
  let dir: string;
  let gt: string;
  let pred: string;
  let list: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-seg-camvid-'));
    gt = path.join(dir, 'gt');
    pred = path.join(dir, 'pred');
    // 2x3 labels, void 11. a: found as <gt>/a.png; b: under <gt>/labels/ (a relative pair re-rooted under --gt).
    writeGray(path.join(gt, 'a.png'), 2, 3, [0, 1, 11, 2, 1, 0]);
    writeGray(path.join(gt, 'labels', 'b.png'), 2, 3, [2, 2, 11, 11, 0, 1]);
    writeGray(path.join(pred, 'a.png'), 2, 3, [0, 1, 1, 2, 0, 0]);
    writeGray(path.join(pred, 'b.png'), 2, 3, [2, 1, 0, 0, 0, 1]);
    list = path.join(dir, 'val.txt');
    // SegNet's absolute paths from another machine, then the 'images/x.png labels/x.png' style.
    fs.writeFileSync(list, '/SegNet/CamVid/val/a.png /SegNet/CamVid/valannot/a.png\nimages/b.png labels/b.png\n\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  // Counted pixels (gt, pred): a: (0,0) (1,1) (2,2) (1,0) (0,0); b: (2,2) (2,1) (0,0) (1,1); void left out.
  // Confusion [gt][pred]: row 0 = [3, 0, 0], row 1 = [1, 2, 0], row 2 = [0, 1, 2]; predicted areas 4, 3, 2.
  // IoU = 3/(3+4-3), 2/(3+3-2), 2/(3+2-2) = 3/4, 1/2, 2/3; Acc = 1, 2/3, 2/3; aAcc = 7/9.
  const IOU = [3 / 4, 1 / 2, 2 / 3];
  const ACC = [1, 2 / 3, 2 / 3];

  it('a pair list (foreign absolute paths and relative pairs) with --num-classes 3 --ignore-index 11: hand-derived metrics', async () => {
    const m = JSON.parse(await runCli(['--gt', gt, '--pred', pred, '--list', list, '--num-classes', '3', '--ignore-index', '11', '--json']));
    expect(m.confusion).to.deep.equal([[3, 0, 0], [1, 2, 0], [0, 1, 2]]);
    m.IoU.forEach((v: number, i: number) => expect(v).to.be.closeTo(IOU[i], 1e-15));
    m.Acc.forEach((v: number, i: number) => expect(v).to.be.closeTo(ACC[i], 1e-15));
    expect(m.aAcc).to.be.closeTo(7 / 9, 1e-15);
    expect(m.mIoU).to.be.closeTo((3 / 4 + 1 / 2 + 2 / 3) / 3, 1e-15);
    expect([m.numImages, m.classNames]).to.deep.equal([2, ['class_0', 'class_1', 'class_2']]);
    expect(lastStderr).to.equal('');
  });

  it('--class-names as a comma list or a file names the rows; K follows the names', async () => {
    const table = await runCli(['--gt', gt, '--pred', pred, '--list', list, '--ignore-index', '11', '--class-names', 'sky,road,car']);
    const rows = table.split('\n').slice(1, 4).map((l) => l.split(/\s+/));
    expect(rows).to.deep.equal([['sky', '75.00', '100.00'], ['road', '50.00', '66.67'], ['car', '66.67', '66.67']]);
    const namesFile = path.join(dir, 'names.txt');
    fs.writeFileSync(namesFile, 'sky\nroad\ncar\n');
    expect(await runCli(['--gt', gt, '--pred', pred, '--list', list, '--ignore-index', '11', '--class-names', namesFile])).to.equal(table);
    expect(await errorOf(['--gt', gt, '--pred', pred, '--list', list, '--num-classes', '4', '--ignore-index', '11', '--class-names', 'a,b,c'])).to.equal(
      '--class-names gives 3 names but the number of classes is 4',
    );
  });

  it('--config takes K = 11, ignore 11 and the CamVid class names from the segmentation config', async () => {
    const cfg = path.resolve(__dirname, '..', '..', 'configs', 'segmentation', 'fcn_r50_d8_camvid.json');
    const lines = (await runCli(['--gt', gt, '--pred', pred, '--list', list, '--config', cfg])).trimEnd().split('\n');
    expect(lines.slice(1, 12).map((l) => l.split(/\s+/)[0])).to.deep.equal([
      'Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist',
    ]);
    // Same counts as above; classes 3..10 are absent and never predicted (n/a, left out of the means).
    expect(lines[1].split(/\s+/)).to.deep.equal(['Sky', '75.00', '100.00']);
    expect(lines[4].split(/\s+/)).to.deep.equal(['Road', 'n/a', 'n/a']);
    expect(lines.at(-1)).to.equal('mIoU averages 3 of 11 classes, mAcc 3 (n/a: IoU of a class absent from both ground truth and prediction, Acc of a class absent from the ground truth)');
    expect(lines.at(-2)).to.equal(`aAcc ${(700 / 9).toFixed(2)}  mIoU ${((100 * (3 / 4 + 1 / 2 + 2 / 3)) / 3).toFixed(2)}  mAcc ${((100 * (1 + 4 / 3)) / 3).toFixed(2)}  (2 images, percent)`);
    expect(await errorOf(['--gt', gt, '--pred', pred, '--config', path.resolve(__dirname, '..', '..', 'configs', 'detection', 'retinanet_r50_fpn.json')])).to.match(
      /a detection config; eval-seg needs a segmentation config/,
    );
  });

  it('void 11 with K = 11 and ignore 255 fails naming the file and the value, and says which options to pass', async () => {
    const msg = await errorOf(['--gt', gt, '--pred', pred, '--list', list, '--num-classes', '11']);
    expect(msg).to.equal(
      `ground truth '${path.join(gt, 'a.png')}': ground-truth value 11 at pixel 2 is neither a class in 0..10 nor the ignore index 255: ` +
        "the dataset's labels do not match K = 11 / ignore 255; pass --num-classes and --ignore-index as the dataset defines them " +
        '(CamVid: --num-classes 11 --ignore-index 11), or --config with its config',
    );
  });

  it('with the VOC defaults (K = 21, ignore 255), labels stopping at 11 without any 255 give a warning naming the values', async () => {
    await runCli(['--gt', gt, '--pred', pred, '--list', list, '--json']);
    expect(lastStderr).to.equal(
      'warning: no ground-truth pixel has the ignore index 255 and the values seen stop at 11 (K = 21): if 11 marks void, ' +
        'the numbers are wrong; pass --num-classes 11 --ignore-index 11, or --config\n',
    );
  });

  it('a list line of three fields and an unresolvable mask path are errors naming the list and the line', async () => {
    const bad = path.join(dir, 'bad.txt');
    fs.writeFileSync(bad, 'a\nx.png y.png z.png\n');
    expect(await errorOf(['--gt', gt, '--pred', pred, '--list', bad])).to.equal(
      `list file '${bad}', line 2: expected a name or an 'image mask' pair, got 3 fields`,
    );
    fs.writeFileSync(bad, 'images/c.png labels/c.png\n');
    expect(await errorOf(['--gt', gt, '--pred', pred, '--list', bad])).to.equal(
      `list file '${bad}', line 1: ground truth 'labels/c.png' found neither as '${path.join(gt, 'c.png')}' nor under '${gt}'`,
    );
  });
});
