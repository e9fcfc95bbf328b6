import { expect } from 'chai';
import { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as os from 'node:os';

import { registerEvalCoco } from '../../../src/cli/eval_coco';
import { formatFixedPython } from '../../../datasets/coco/cocoeval';

const CASE = path.resolve(__dirname, '..', '..', 'fixtures', 'coco', 'case001_07');

async function runCli(args: string[]): Promise<string> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined });
  registerEvalCoco(program);
  let out = '';
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => {
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'resvision', ...args]);
  } finally {
    process.stdout.write = write;
  }
  return out;
}

describe('eval-coco CLI', () => {
  const expected = JSON.parse(fs.readFileSync(path.join(CASE, 'expected.json'), 'utf8')) as {
    stats: number[];
    per_category_ap: number[];
    catIds: number[];
  };

  it('prints the 12 pycocotools lines with the reference stats (case001_07, bbox)', async () => {
    const out = await runCli(['eval-coco', path.join(CASE, 'gt.json'), path.join(CASE, 'dt.json'), '--iou-type', 'bbox']);
    const lines = out.trimEnd().split('\n');
    expect(lines).to.have.length(12);
    expect(lines[0].startsWith(' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = ')).to.equal(true);
    expect(lines[11].startsWith(' Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = ')).to.equal(true);
    lines.forEach((l, i) => expect(l.endsWith(`= ${formatFixedPython(expected.stats[i], 3)}`), l).to.equal(true));
  });

  it('--per-class appends one row per category with its AP in percent, as eval prints it', async () => {
    const out = await runCli(['eval-coco', path.join(CASE, 'gt.json'), path.join(CASE, 'dt.json'), '--iou-type', 'bbox', '--per-class']);
    const lines = out.trimEnd().split('\n');
    const rows = lines.slice(14);
    expect(rows).to.have.length(expected.catIds.length);
    // the header's "AP %" ends where the values end (right-aligned columns)
    expect(lines[13].trimEnd()).to.match(/ AP %$/);
    for (const r of rows) expect(r.length, `'${r}' under '${lines[13]}'`).to.equal(lines[13].length);
    rows.forEach((r, k) => {
      const cols = r.trim().split(/\s+/);
      expect(Number(cols[0])).to.equal(expected.catIds[k]);
      const ap = expected.per_category_ap[k];
      expect(cols[cols.length - 1]).to.equal(ap < 0 ? 'n/a' : (100 * ap).toFixed(2));
    });
  });

  it('--params applies COCOeval overrides (case001_00: useCats 0) and --json gives the exact stats', async () => {
    const dir = path.resolve(__dirname, '..', '..', 'fixtures', 'coco', 'case001_00');
    const ref = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { stats: number[]; per_category_ap: number[] };
    const out = await runCli([
      'eval-coco', path.join(dir, 'gt.json'), path.join(dir, 'dt.json'), '--iou-type', 'bbox',
      '--params', path.join(dir, 'params.json'), '--json',
    ]);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).to.equal('Params overrides: {"useCats":0}');
    const result = JSON.parse(lines[lines.length - 1]) as { stats: number[]; perCategoryAp: { categoryId: number; ap: number }[] };
    result.stats.forEach((v, i) => expect(Math.abs(v - ref.stats[i]), `stat ${i}`).to.be.at.most(1e-9));
    expect(result.perCategoryAp.map((r) => r.categoryId)).to.deep.equal([-1]);
    expect(Math.abs(result.perCategoryAp[0].ap - ref.per_category_ap[0])).to.be.at.most(1e-9);
    // The same override from the shorthand flag.
    const short = await runCli(['eval-coco', path.join(dir, 'gt.json'), path.join(dir, 'dt.json'), '--iou-type', 'bbox', '--use-cats', '0']);
    expect(short.split('\n').slice(1).join('\n')).to.equal(lines.slice(1, 13).join('\n') + '\n');
  });

  it('rejects an --iou-type outside bbox|segm', async () => {
    let err: unknown;
    try {
      await runCli(['eval-coco', 'a.json', 'b.json', '--iou-type', 'keypoints']);
    } catch (e) {
      err = e;
    }
    expect(String(err)).to.match(/Allowed choices are bbox, segm/);
  });

  describe('warnings on input pycocotools evaluates its own way (stderr, one line each)', () => {
    let dir = '';
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evalcoco-'));
      const box = (id: number, x: number) => ({ id, image_id: 1, category_id: 1, bbox: [x, 0, 50, 50], area: 2500, iscrowd: 0 });
      const images = [{ id: 1, width: 640, height: 480, file_name: 'a.jpg' }];
      const categories = [{ id: 1, name: 'a' }];
      fs.writeFileSync(path.join(dir, 'dup.json'), JSON.stringify({ images, categories, annotations: [box(1, 0), box(1, 100)] }));
      fs.writeFileSync(path.join(dir, 'dt.json'), JSON.stringify([
        { image_id: 1, category_id: 1, bbox: [0, 0, 50, 50], score: 0.9 },
        { image_id: 1, category_id: 1, bbox: [100, 0, 50, 50], score: 0.8 },
      ]));
      fs.writeFileSync(path.join(dir, 'empty.json'), '[]');
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    async function runWithStderr(args: string[]): Promise<{ out: string; err: string }> {
      let err = '';
      const write = process.stderr.write;
      process.stderr.write = ((chunk: string) => {
        err += chunk;
        return true;
      }) as typeof process.stderr.write;
      try {
        return { out: await runCli(args), err };
      } finally {
        process.stderr.write = write;
      }
    }

    it('repeated annotation ids: pycocotools numbers (AP 0.252, AR1 0, AR100 0.5) and one warning line', async () => {
      const gtFile = path.join(dir, 'dup.json');
      const { out, err } = await runWithStderr(['eval-coco', gtFile, path.join(dir, 'dt.json'), '--iou-type', 'bbox']);
      const lines = out.trimEnd().split('\n');
      expect(lines[0].endsWith('= 0.252')).to.equal(true);
      expect(lines[6].endsWith('= 0.000')).to.equal(true);
      expect(lines[8].endsWith('= 0.500')).to.equal(true);
      const warnings = err.trimEnd().split('\n');
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.match(new RegExp(`^warning: ${gtFile.replace(/[.\\/]/g, '\\$&')}: 2 annotation\\(s\\) have id 0 or an id another annotation also has \\(ids 1\\); the numbers follow pycocotools`));
    });

    it('an empty results list scores 0 (-1 without ground truth) and names the file', async () => {
      const dtFile = path.join(dir, 'empty.json');
      const { out, err } = await runWithStderr(['eval-coco', path.join(dir, 'dup.json'), dtFile, '--iou-type', 'bbox']);
      const values = out.trimEnd().split('\n').map((l) => l.slice(l.lastIndexOf('= ') + 2));
      expect(values).to.deep.equal(['0.000', '0.000', '0.000', '-1.000', '0.000', '-1.000', '0.000', '0.000', '0.000', '-1.000', '0.000', '-1.000']);
      expect(err).to.include(`warning: ${dtFile}: the results list is empty; evaluated as no detections`);
    });
  });
});
