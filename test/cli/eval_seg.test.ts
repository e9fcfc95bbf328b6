/**
 * `eval-seg` on the VOC segmentation oracle fixture (expected values from scripts/bench/eval_seg_reference.py,
 * NumPy + PIL), and its errors: missing prediction, size mismatch, bad options.
 */
import { expect } from 'chai';
import { Command } from 'commander';
import { encode } from 'fast-png';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { registerEvalSeg } from '../../src/cli/eval_seg';

const FIXTURE = path.resolve(__dirname, '..', 'fixtures', 'voc_seg_oracle');

async function runCli(args: string[]): Promise<string> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined });
  registerEvalSeg(program);
  let out = '';
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => {
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'resvision', 'eval-seg', ...args]);
  } finally {
    process.stdout.write = write;
  }
  return out;
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

  it('a missing prediction is an error naming the file', async () => {
    const pred = path.join(dir, 'pred_missing');
    fs.mkdirSync(pred);
    for (const f of fs.readdirSync(path.join(FIXTURE, 'pred'))) {
      if (f !== '2008_000011.png') fs.copyFileSync(path.join(FIXTURE, 'pred', f), path.join(pred, f));
    }
    const msg = await errorOf(['--gt', path.join(FIXTURE, 'gt'), '--pred', pred]);
    expect(msg).to.equal(`prediction '${path.join(pred, '2008_000011.png')}' is missing`);
  });

  it('a prediction of another size is an error naming both files and sizes', async () => {
    const pred = path.join(dir, 'pred_size');
    fs.mkdirSync(pred);
    for (const f of fs.readdirSync(path.join(FIXTURE, 'pred'))) fs.copyFileSync(path.join(FIXTURE, 'pred', f), path.join(pred, f));
    // 2010_000003 is 64 rows x 80 columns; write a 63 x 80 grayscale prediction instead.
    fs.writeFileSync(path.join(pred, '2010_000003.png'), encode({ width: 80, height: 63, data: new Uint8Array(80 * 63), channels: 1, depth: 8 }));
    const msg = await errorOf([...base.slice(0, 2), '--pred', pred]);
    expect(msg).to.equal(
      `prediction '${path.join(pred, '2010_000003.png')}' is 63x80 (HxW), its ground truth '${path.join(FIXTURE, 'gt', '2010_000003.png')}' 64x80`,
    );
  });

  it('rejects a non-integer --num-classes and an --ignore-index that is a class', async () => {
    expect(await errorOf([...base, '--num-classes', '2.5'])).to.match(/--num-classes must be an integer/);
    expect(await errorOf([...base, '--ignore-index', '3'])).to.match(/ignoreIndex must be an integer outside 0\.\.20/);
  });
});
