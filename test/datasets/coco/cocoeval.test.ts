import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { Coco } from '../../../datasets/coco/coco';
import { CocoEval, applyCocoEvalParamOverrides, defaultCocoEvalParams, formatFixedPython } from '../../../datasets/coco/cocoeval';
import type { CocoAnnotationJson, CocoResultJson } from '../../../datasets/coco/types';

type GtAnn = Partial<CocoAnnotationJson> & { image_id: number; category_id: number; bbox: number[] };

/** Ground truth with images 1..nImages (100x100) and categories 1..nCats; ann ids 1..N, area defaults to w*h. */
function makeGt(anns: GtAnn[], nImages = 1, nCats = 1): Coco {
  return new Coco({
    images: Array.from({ length: nImages }, (_, i) => ({ id: i + 1, width: 200, height: 200 })),
    categories: Array.from({ length: nCats }, (_, i) => ({ id: i + 1, name: `c${i + 1}` })),
    annotations: anns.map((a, i) => ({ id: i + 1, iscrowd: 0, area: a.bbox[2] * a.bbox[3], ...a })),
  });
}

function run(gt: Coco, results: CocoResultJson[], overrides: object = {}) {
  const E = new CocoEval(gt, gt.loadRes(results), 'bbox');
  applyCocoEvalParamOverrides(E.params, overrides);
  E.evaluate();
  E.accumulate();
  return { E, ...E.summarize() };
}

/**
 * Stats compare with 1e-12: precision is tp / (tp + fp + np.spacing(1)), so a perfect curve averages to
 * 1 - 2.2e-16 (pycocotools prints 0.9999999999999998 too); -1 entries compare exactly.
 */
function expectStats(actual: number[], expected: number[]): void {
  expect(actual).to.have.length(expected.length);
  actual.forEach((v, i) => expect(v, `stats[${i}]`).to.be.closeTo(expected[i], 1e-12));
}

const det = (image_id: number, category_id: number, bbox: number[], score: number): CocoResultJson => ({ image_id, category_id, bbox, score });

describe('CocoEval Params', () => {
  it('defaults: T=10 (contains exactly 0.5 and 0.75, as summarize looks them up), R=101 from 0 to 1', () => {
    const p = defaultCocoEvalParams('bbox');
    expect(p.iouThrs).to.have.length(10);
    expect(p.iouThrs[0]).to.equal(0.5);
    expect(p.iouThrs[5]).to.equal(0.75);
    expect(p.iouThrs[9]).to.equal(0.95);
    expect(p.recThrs).to.have.length(101);
    expect(p.recThrs[0]).to.equal(0);
    expect(p.recThrs[50]).to.equal(0.5);
    expect(p.recThrs[100]).to.equal(1);
    expect(p.maxDets).to.deep.equal([1, 10, 100]);
    expect(p.areaRng).to.deep.equal([[0, 1e10], [0, 1024], [1024, 9216], [9216, 1e10]]);
  });

  it('unknown override keys are rejected with the valid list', () => {
    expect(() => applyCocoEvalParamOverrides(defaultCocoEvalParams('bbox'), { maxDet: [1] })).to.throw(/unknown parameter "maxDet".*maxDets/);
  });
});

describe('formatFixedPython', () => {
  it("matches Python's '{:0.Nf}' (ties to even on the exact binary value)", () => {
    expect(formatFixedPython(0.125, 2)).to.equal('0.12'); // exact tie → even
    expect(formatFixedPython(0.375, 2)).to.equal('0.38'); // exact tie → even
    expect(formatFixedPython(2.675, 2)).to.equal('2.67'); // 2.67499999... in binary
    expect(formatFixedPython(-1, 3)).to.equal('-1.000');
    expect(formatFixedPython(0.5, 0)).to.equal('0');
    expect(formatFixedPython(1.5, 0)).to.equal('2');
  });
});

describe('CocoEval.evaluate/accumulate/summarize', () => {
  it('one small object found exactly → AP=APs=AR=1, medium/large -1, and the 12 lines as pycocotools prints', () => {
    const gt = makeGt([{ image_id: 1, category_id: 1, bbox: [10, 10, 10, 10] }]); // area 100 < 32² → small
    const { stats, lines } = run(gt, [det(1, 1, [10, 10, 10, 10], 0.9)]);
    expectStats(stats, [1, 1, 1, 1, -1, -1, 1, 1, 1, 1, -1, -1]);
    expect(lines).to.deep.equal([
      ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000',
      ' Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 1.000',
      ' Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ] = 1.000',
      ' Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = 1.000',
      ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000',
      ' Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000',
      ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 1.000',
      ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ] = 1.000',
      ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000',
      ' Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = 1.000',
      ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000',
      ' Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000',
    ]);
  });

  describe('crowd', () => {
    // gt A regular [0,0,10,10]; gt C [50,50,50,50] (area 2500). Detections, highest score first:
    // d1 [60,60,10,10] .95 and d2 [70,70,10,10] .90 lie inside C; d3 = A exactly, .80.
    const anns = (crowd: number): GtAnn[] => [
      { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10] },
      { image_id: 1, category_id: 1, bbox: [50, 50, 50, 50], iscrowd: crowd },
    ];
    const dets = [det(1, 1, [60, 60, 10, 10], 0.95), det(1, 1, [70, 70, 10, 10], 0.9), det(1, 1, [0, 0, 10, 10], 0.8)];

    it('crowd C: IoU = inter / dt area = 1, both inside detections match C (several times) and are ignored → AP 1', () => {
      const { E, stats } = run(makeGt(anns(1)), dets);
      expectStats([stats[0]], [1]);
      const img = E.evaluateImg(1, 1, [0, 1e10], 100)!;
      expect(img.gtIds).to.deep.equal([1, 2]); // crowd (ignored) last
      expect(Array.from(img.gtIgnore)).to.deep.equal([0, 1]);
      // dt ids are 1..3 in record order; at every threshold: d1→C, d2→C, d3→A
      expect(Array.from(img.dtMatches.slice(0, 3))).to.deep.equal([2, 2, 1]);
      expect(Array.from(img.dtIgnore.slice(0, 3))).to.deep.equal([1, 1, 0]);
    });

    it('same boxes without the crowd flag: two false positives first → AP = 51/101 · 1/3 = 17/101', () => {
      // npig = 2; tp cumsum [0,0,1], fp [1,2,2] → rc [0,0,.5], pr [0,0,1/3] → envelope 1/3 everywhere.
      // searchsorted: recThrs 0 → index 0, (0, .5] → index 2, > .5 → beyond the curve (0). 51 of 101 values are 1/3,
      // at every IoU threshold (IoUs are 1 or 100/2500), so AP = 51/101/3.
      const { stats } = run(makeGt(anns(0)), dets);
      expect(stats[0]).to.be.closeTo(17 / 101, 1e-15);
      expect(stats[8]).to.equal(0.5); // AR100: recall 1/2 at every threshold
    });
  });

  it("the gt 'ignore' field has no effect (cocoeval.py overwrites it with iscrowd): one missed gt → AP 0, not -1", () => {
    const { stats } = run(makeGt([{ image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], ignore: 1 }]), [det(1, 1, [100, 100, 5, 5], 0.5)]);
    // the gt counts (npig = 1) and the lone detection misses it: precision 0 at every recall threshold, recall 0
    expect(stats[0]).to.equal(0);
    expect(stats[8]).to.equal(0);
  });

  it("area ranges use the gt 'area' field (500 → small) and the dt box area (10000 → large)", () => {
    // gt box 100x100 with area 500. A perfect detection (area 10000): in 'small' the gt counts and the match is a TP;
    // in 'medium'/'large' the gt is ignored, so the matched detection is ignored too and npig = 0 → -1.
    // A second, unmatched detection of area 10000 (score .4) is ignored in 'small' (outside range): APs stays 1.
    const gt = makeGt([{ image_id: 1, category_id: 1, bbox: [0, 0, 100, 100], area: 500 }]);
    const { stats } = run(gt, [det(1, 1, [0, 0, 100, 100], 0.9), det(1, 1, [100, 100, 100, 100], 0.4)]);
    expectStats(stats.slice(3, 6), [1, -1, -1]);
    expectStats(stats.slice(9, 12), [1, -1, -1]);
    expectStats([stats[0]], [1]); // in 'all' the second detection is a FP after recall reached 1
  });

  it('maxDets: two gts found by the top-2 detections → AR1 = 0.5, AR10 = 1; custom maxDets without 100 → AP -1', () => {
    const gt = makeGt([
      { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10] },
      { image_id: 1, category_id: 1, bbox: [50, 50, 10, 10] },
    ]);
    const dets = [det(1, 1, [0, 0, 10, 10], 0.9), det(1, 1, [50, 50, 10, 10], 0.8)];
    const a = run(gt, dets);
    expect(a.stats[6]).to.equal(0.5);
    expect(a.stats[7]).to.equal(1);
    const E = a.E;
    const [T, R, K, A, M] = E.eval!.counts;
    expect([T, R, K, A, M]).to.deep.equal([10, 101, 1, 4, 3]);
    // summarize's first line asks for maxDets=100, which this list lacks → -1 (as pycocotools)
    const b = run(gt, dets, { maxDets: [1, 10, 50] });
    expect(b.stats[0]).to.equal(-1);
    expectStats([b.stats[1]], [1]); // AP50 uses maxDets[2] = 50
    expect(b.lines[1]).to.equal(' Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets= 50 ] = 1.000');
  });

  it('useCats=0: a detection with the wrong category still matches', () => {
    const gt = makeGt([{ image_id: 1, category_id: 1, bbox: [0, 0, 10, 10] }], 1, 2);
    const dets = [det(1, 2, [0, 0, 10, 10], 0.9)];
    const withCats = run(gt, dets);
    // category 1: one gt, no detection → AP 0; category 2: no gt → -1 (left out of the mean)
    expect(withCats.stats[0]).to.equal(0);
    expect(withCats.E.perCategoryAp()).to.deep.equal([{ categoryId: 1, ap: 0 }, { categoryId: 2, ap: -1 }]);
    const noCats = run(gt, dets, { useCats: 0 });
    expectStats([noCats.stats[0]], [1]);
    const pc = noCats.E.perCategoryAp();
    expect(pc.map((c) => c.categoryId)).to.deep.equal([-1]);
    expectStats([pc[0].ap], [1]);
  });

  it('ties in score keep image order across images (stable sort), which decides the precision curve', () => {
    // image 1: FP at score .5; image 2: TP at score .5. Concatenated in image order: [FP, TP] → rc [0, 1],
    // pr [0, .5] → envelope [.5, .5]; every recall threshold → precision .5 → AP50 = 0.5.
    const gt = makeGt([{ image_id: 2, category_id: 1, bbox: [0, 0, 10, 10] }], 2);
    const { stats } = run(gt, [det(2, 1, [0, 0, 10, 10], 0.5), det(1, 1, [0, 0, 10, 10], 0.5)]);
    expect(stats[1]).to.equal(0.5);
  });

  it('a gt with id 0 counts as unmatched in accumulate (dtm == 0 tests the id), as pycocotools', () => {
    const gt = new Coco({
      images: [{ id: 1, width: 50, height: 50 }],
      categories: [{ id: 1 }],
      annotations: [{ id: 0, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], area: 100, iscrowd: 0 }],
    });
    const { stats } = run(gt, [det(1, 1, [0, 0, 10, 10], 0.9)]);
    expect(stats[0]).to.equal(0);
  });
});

/** One 640x480 image, category 1; annotations given whole (ids included). */
function gt640(annotations: CocoAnnotationJson[]): Coco {
  return new Coco({ images: [{ id: 1, width: 640, height: 480 }], categories: [{ id: 1, name: 'a' }], annotations }, 'gt640.json');
}
const box50 = (id: number, x: number): CocoAnnotationJson => ({ id, image_id: 1, category_id: 1, bbox: [x, 0, 50, 50], area: 2500, iscrowd: 0 });

describe('CocoEval on input pycocotools evaluates its own way', () => {
  /*
   * Two gts share id 1: [0,0,50,50] then [100,0,50,50]. pycocotools' `loadAnns(getAnnIds(...))` looks both up by id
   * and gets the second box twice. Detections: exact copies of both boxes, scored 0.9 (first box) and 0.8.
   *   0.9 on [0,0,50,50]: IoU 0 with both copies of [100,0,50,50] → FP; 0.8 on [100,0,50,50] → TP.
   *   tp 0,1; fp 1,1; npig 2 → recall 0, 0.5; precision 0, 1/(2+eps) = 0.5 (2+eps rounds to 2).
   *   Recall thresholds 0..0.5 (51 of 101) get the envelope 0.5, the rest 0 → AP = 0.5 * 51/101 at every IoU.
   *   AR1: only the 0.9 detection → 0. AR10 = AR100 = 0.5. Areas 2500 are medium: small/large -1.
   * pycocotools: AP 0.252475, AR1 0, AR100 0.5.
   */
  it('two gts with id 1: evaluated as the second box twice (AP 0.5*51/101, AR1 0, AR100 0.5)', () => {
    const gt = gt640([box50(1, 0), box50(1, 100)]);
    const { stats } = run(gt, [det(1, 1, [0, 0, 50, 50], 0.9), det(1, 1, [100, 0, 50, 50], 0.8)]);
    const ap = (0.5 * 51) / 101;
    expectStats(stats, [ap, ap, ap, -1, ap, -1, 0, 0.5, 0.5, -1, 0.5, -1]);
    expect(formatFixedPython(stats[0], 6)).to.equal('0.252475');
    expect(gt.warnings).to.have.length(1);
    expect(gt.warnings[0]).to.match(/^gt640\.json: 2 annotation\(s\) have id 0 or an id another annotation also has \(ids 1\); the numbers follow pycocotools/);
    expect(gt.warnings[0]).to.match(/give every annotation a unique id >= 1/);
  });

  it('a single gt of id 0 found exactly: all-zero stats as pycocotools (0 = unmatched), with the warning', () => {
    const gt = gt640([box50(0, 0)]);
    const { stats } = run(gt, [det(1, 1, [0, 0, 50, 50], 0.9)]);
    expect(stats).to.deep.equal([0, 0, 0, -1, 0, -1, 0, 0, 0, -1, 0, -1]);
    expect(gt.warnings[0]).to.match(/1 annotation\(s\) have id 0 .*\(ids 0\)/);
  });

  it('an empty results list evaluates as no detections: 0 where gt exists, -1 elsewhere', () => {
    const gt = gt640([box50(1, 0)]);
    const dt = gt.loadRes([]);
    expect(dt.warnings).to.deep.equal(['<results>: the results list is empty; evaluated as no detections (AP and AR 0 where the ground truth has objects)']);
    const E = new CocoEval(gt, dt, 'bbox');
    E.evaluate();
    E.accumulate();
    expect(E.summarize().stats).to.deep.equal([0, 0, 0, -1, 0, -1, 0, 0, 0, -1, 0, -1]);
  });

  /*
   * Boxes with w or h <= 0 are kept as written (maskApi.c bbIou: min(x+w, gx2) - max(x, gx) <= w <= 0 → IoU 0) and
   * their area is w*h:
   *   [50,50,-50,-50] (corners of the gt, swapped), 0.9: area +2500 (medium), IoU 0 → FP; exact box 0.8 → TP.
   *     precision 0, 1/(2+eps) = 0.5; recall 0, 1 → AP 0.5; AR1 0 (the FP only), AR10 = AR100 = 1.
   *   [0,0,-50,50], 0.9: area -2500 < 0 lies outside every area range, and an unmatched detection outside the range
   *     is ignored (cocoeval.py evaluateImg) → neither TP nor FP; exact box 0.8 → TP.
   *     precision 0/eps = 0, 1/(1+eps) = 1-2.2e-16 → AP 1 (to 1e-12); AR1 0 (the only detection kept is ignored).
   */
  it('negative-size boxes score as pycocotools: IoU 0, area w*h (swapped corners → FP; negative area → ignored)', () => {
    const gt = gt640([box50(1, 0)]);
    const swapped = run(gt, [det(1, 1, [50, 50, -50, -50], 0.9), det(1, 1, [0, 0, 50, 50], 0.8)]);
    expectStats(swapped.stats, [0.5, 0.5, 0.5, -1, 0.5, -1, 0, 1, 1, -1, 1, -1]);
    const negArea = run(gt, [det(1, 1, [0, 0, -50, 50], 0.9), det(1, 1, [0, 0, 50, 50], 0.8)]);
    expectStats(negArea.stats, [1, 1, 1, -1, 1, -1, 0, 1, 1, -1, 1, -1]);
  });

  it('segm: a gt RLE whose counts do not sum to height*width is an error, not an endless loop', () => {
    const gt = new Coco({
      images: [{ id: 3, width: 4, height: 4 }],
      categories: [{ id: 1 }],
      annotations: [{ id: 8, image_id: 3, category_id: 1, segmentation: { size: [4, 4], counts: [2, 3] }, area: 3, iscrowd: 1 }],
    }, 'rle.json');
    const dt = gt.loadRes([{ image_id: 3, category_id: 1, segmentation: { size: [4, 4], counts: '22<' }, score: 1 } as never]);
    const E = new CocoEval(gt, dt, 'segm');
    expect(() => E.evaluate()).to.throw('rle.json: annotation id 8 (image id 3): segmentation RLE counts sum to 5, expected height*width = 4*4 = 16');
  });

  it('a gt without "area" is one error naming the gt file and annotation', () => {
    const gt = new Coco({
      images: [{ id: 1, width: 64, height: 64 }],
      categories: [{ id: 1 }],
      annotations: [{ id: 4, image_id: 1, category_id: 1, bbox: [0, 0, 5, 5], iscrowd: 0 }],
    }, 'noarea.json');
    const E = new CocoEval(gt, gt.loadRes([det(1, 1, [0, 0, 5, 5], 0.9)]), 'bbox');
    expect(() => E.evaluate()).to.throw(/^noarea\.json: annotation id 4: "area" must be a number, got nothing/);
  });

  it('a gt without "iscrowd" is taken as 0 and said once', () => {
    const gt = new Coco({
      images: [{ id: 1, width: 64, height: 64 }],
      categories: [{ id: 1 }],
      annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 5, 5], area: 25 },
        { id: 2, image_id: 1, category_id: 1, bbox: [10, 10, 5, 5], area: 25 },
      ],
    }, 'nocrowd.json');
    expect(gt.warnings).to.deep.equal([
      'nocrowd.json: 2 of 2 annotation(s) have no "iscrowd"; taken as 0 (not a crowd region); pycocotools stops with a KeyError on such a file',
    ]);
    // Both found exactly: AP 1 (to np.spacing(1)), so neither was taken as a crowd region.
    expect(run(gt, [det(1, 1, [0, 0, 5, 5], 0.9), det(1, 1, [10, 10, 5, 5], 0.8)]).stats[0]).to.be.closeTo(1, 1e-12);
  });
});

describe('CocoEval on results read into columns', () => {
  /** Three images, two categories; detections with tied scores, misses, a crowd and duplicates. */
  function caseFiles(): { gt: Coco; records: CocoResultJson[] } {
    const gt = makeGt([
      { image_id: 1, category_id: 1, bbox: [10, 10, 20, 20] },
      { image_id: 1, category_id: 2, bbox: [50, 50, 40, 30] },
      { image_id: 2, category_id: 1, bbox: [0, 0, 100, 100], iscrowd: 1 },
      { image_id: 3, category_id: 2, bbox: [5, 5, 10, 10] },
    ], 3, 2);
    const records = [
      det(2, 1, [10, 10, 30, 30], 0.5), det(1, 1, [11, 10, 20, 20], 0.9), det(1, 1, [10, 12, 20, 20], 0.5),
      det(3, 2, [5, 5, 10, 11], 0.5), det(1, 2, [50, 52, 40, 30], 0.7), det(3, 1, [0, 0, 5, 5], 0.2),
    ];
    return { gt, records };
  }

  it('give the evalImgs, precision, recall, scores and stats of the same records given as objects', () => {
    const { gt, records } = caseFiles();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoeval-'));
    try {
      const file = path.join(dir, 'dt.json');
      fs.writeFileSync(file, JSON.stringify(records));
      const fromFile = gt.loadRes(file);
      expect(fromFile.resultTable).to.not.equal(undefined);
      const a = new CocoEval(gt, fromFile, 'bbox');
      const b = new CocoEval(gt, gt.loadRes(records), 'bbox');
      for (const E of [a, b]) {
        E.evaluate();
        E.accumulate();
        E.summarize();
      }
      expect(fromFile.resultTable, 'evaluation does not make the records').to.not.equal(undefined);
      expect(Array.from(a.eval!.precision)).to.deep.equal(Array.from(b.eval!.precision));
      expect(Array.from(a.eval!.recall)).to.deep.equal(Array.from(b.eval!.recall));
      expect(Array.from(a.eval!.scores)).to.deep.equal(Array.from(b.eval!.scores));
      expect(a.stats).to.deep.equal(b.stats);
      for (const imgId of [1, 2, 3]) {
        for (const catId of [1, 2]) expect(a.evaluateImg(imgId, catId, [0, 1e10], 100)).to.deep.equal(b.evaluateImg(imgId, catId, [0, 1e10], 100));
      }
      // records made and changed before evaluate are what is evaluated
      const edited = gt.loadRes(file);
      for (const r of edited.dataset.annotations) r.score = 1;
      const c = new CocoEval(gt, edited, 'bbox');
      c.evaluate();
      expect(c.evaluateImg(1, 1, [0, 1e10], 100)!.dtScores).to.deep.equal([1, 1]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
