import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as path from 'path';
import * as cocoPort from '../datasets/coco';
import * as entry from '../src/coco';

const ROOT = path.resolve(__dirname, '..');

describe("resvision/coco (src/coco.ts): pycocotools' API without a tensor library", () => {
  it('importing it loads no package from node_modules: no @tensorflow, no sharp, nothing else', function () {
    this.timeout(60000);
    // In a fresh process: load one trivial TS file first so tsx's own modules are in the cache, then diff the
    // module cache around requiring the entry.
    const script = `
      require(${JSON.stringify(path.join(ROOT, 'test', 'helpers', 'shared.ts'))});
      const before = new Set(Object.keys(require.cache));
      require(${JSON.stringify(path.join(ROOT, 'src', 'coco.ts'))});
      process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((k) => !before.has(k))));`;
    const loaded = JSON.parse(execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: ROOT, encoding: 'utf8' })) as string[];
    const rel = loaded.map((f) => path.relative(ROOT, f)).sort();
    // The diff did see the port being loaded, so an empty package list below means something.
    expect(rel).to.include.members([path.join('datasets', 'coco', 'cocoeval.ts'), path.join('datasets', 'coco', 'mask_api.ts'), path.join('src', 'coco.ts')]);
    expect(rel.filter((f) => /@tensorflow|[\\/]sharp[\\/]/.test(f))).to.deep.equal([]);
    expect(rel.filter((f) => f.split(path.sep).includes('node_modules'))).to.deep.equal([]);
  });

  it('exports the port itself (same classes as datasets/coco)', () => {
    expect(entry.Coco).to.equal(cocoPort.Coco);
    expect(entry.CocoEval).to.equal(cocoPort.CocoEval);
    expect(entry.rleEncode).to.equal(cocoPort.rleEncode);
  });

  it('the pycocotools sequence on a hand-made case: stats and eval.precision', () => {
    // One 100x100 image, two categories. cat 1: gt [10,10,40,40] (area 1600: medium), detected exactly (score 0.9):
    // a true positive at every IoU threshold, AP 1. cat 2: gt [50,50,20,20] (area 400: small), detected as
    // [50,50,20,10] (score 0.8): IoU 200/400 = 0.5, a match at threshold 0.50 only (pycocotools matches IoU >= t),
    // so its AP over the 10 thresholds is 1/10. Hence AP = (1 + 0.1) / 2 = 0.55, AP50 = 1, AP75 = (1 + 0) / 2 = 0.5,
    // AP_small = 0.1 (cat 2 alone), AP_medium = 1 (cat 1 alone), AP_large = -1 (no ground truth); recall: the same.
    const gt = new entry.Coco({
      images: [{ id: 7, width: 100, height: 100, file_name: 'a.jpg' }],
      categories: [{ id: 1, name: 'a' }, { id: 2, name: 'b' }],
      annotations: [
        { id: 1, image_id: 7, category_id: 1, bbox: [10, 10, 40, 40], area: 1600, iscrowd: 0 },
        { id: 2, image_id: 7, category_id: 2, bbox: [50, 50, 20, 20], area: 400, iscrowd: 0 },
      ],
    } as never);
    const dt = gt.loadRes([
      { image_id: 7, category_id: 1, bbox: [10, 10, 40, 40], score: 0.9 },
      { image_id: 7, category_id: 2, bbox: [50, 50, 20, 10], score: 0.8 },
    ]);
    const E = new entry.CocoEval(gt, dt, 'bbox');
    E.evaluate();
    E.accumulate();
    const summary = E.summarize();
    // pycocotools' precision is tp / (tp + fp + np.spacing(1)): a true positive with no false positive before it is
    // 1 / (1 + 2^-52), not 1, and the APs are means of those (numpy pairwise sums), hence the 1e-15 tolerance on the
    // APs; recall has no such term and the ARs are exact.
    const p1 = 1 / (1 + Number.EPSILON);
    const want = [0.55, 1, 0.5, 0.1, 1, -1, 0.55, 0.55, 0.55, 0.1, 1, -1];
    E.stats.slice(0, 6).forEach((v, i) => expect(v, `stats[${i}]`).to.be.closeTo(want[i], 1e-15));
    expect(E.stats.slice(6)).to.deep.equal(want.slice(6));
    expect(summary.lines[0]).to.equal(' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.550');
    const ev = E.eval!;
    expect(ev.counts).to.deep.equal([10, 101, 2, 4, 3]); // [T, R, K, A, M]
    // precision[t, r, k, a=all, m=100]: cat 2 at IoU 0.50 is 1 at every recall threshold, at IoU 0.55 it is 0.
    const [T, R, K, A, M] = ev.counts;
    const at = (t: number, r: number, k: number, a: number, m: number): number => ev.precision[(((t * R + r) * K + k) * A + a) * M + m];
    expect([at(0, 100, 1, 0, 2), at(1, 0, 1, 0, 2), at(9, 100, 0, 0, 2), at(0, 0, 0, 3, 2)]).to.deep.equal([p1, 0, p1, -1]);
    expect(ev.precision.length).to.equal(T * R * K * A * M);
  });
});
