/**
 * Parity with pycocotools: every case folder holds gt.json, dt.json, params.json and expected.json computed by
 * pycocotools 2.0.x (see test/fixtures/coco/README.md). All 12 stats and every per-category AP must match within
 * 1e-9 absolute (the brief's bound; the port reproduces numpy's arithmetic, so differences are 0 in practice).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Coco } from '../../../datasets/coco/coco';
import { CocoEval, applyCocoEvalParamOverrides } from '../../../datasets/coco/cocoeval';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'coco');
const SHARED = path.join(path.resolve(REPO_ROOT, '..', 'shared'), 'oracles', 'coco');
const TOL = 1e-9;

interface Expected {
  iouType: 'bbox' | 'segm';
  stats: number[];
  per_category_ap: number[];
  catIds: number[];
}

function checkCase(dir: string): void {
  const read = (f: string): unknown => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  const exp = read('expected.json') as Expected;
  const gt = Coco.fromFile(path.join(dir, 'gt.json'));
  const E = new CocoEval(gt, gt.loadRes(path.join(dir, 'dt.json')), exp.iouType);
  applyCocoEvalParamOverrides(E.params, read('params.json'), path.join(dir, 'params.json'));
  E.evaluate();
  E.accumulate();
  const { stats } = E.summarize();
  stats.forEach((v, i) => expect(v, `stats[${i}]`).to.be.closeTo(exp.stats[i], TOL));
  const pc = E.perCategoryAp();
  expect(pc.map((c) => c.categoryId)).to.deep.equal(exp.catIds);
  pc.forEach((c, i) => expect(c.ap, `AP of category ${c.categoryId}`).to.be.closeTo(exp.per_category_ap[i], TOL));
}

const caseDirs = (root: string): string[] =>
  fs.readdirSync(root).filter((d) => fs.existsSync(path.join(root, d, 'expected.json'))).sort();

describe('COCOeval parity with pycocotools (fixtures)', () => {
  for (const c of caseDirs(FIXTURES)) it(`${c}`, () => checkCase(path.join(FIXTURES, c)));
});

describe('COCOeval parity with pycocotools (shared oracle set)', function () {
  if (!fs.existsSync(SHARED)) {
    it.skip(`all shared cases (skipped: ${SHARED} is absent; the full oracle set is not part of the repository, test/fixtures/coco holds a subset)`);
    return;
  }
  for (const c of caseDirs(SHARED)) it(`${c}`, () => checkCase(path.join(SHARED, c)));
});
