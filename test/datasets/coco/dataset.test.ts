import { expect } from 'chai';
import { promises as fs } from 'fs';
import * as path from 'path';
import { Coco } from '../../../datasets/coco/coco';
import { CocoDetection } from '../../../datasets/coco/dataset';
import { formatIssue } from '../../../datasets/dataset_issues';
import type { CocoDatasetJson } from '../../../datasets/coco/types';
import { loadDetectionSample } from '../../../datasets/pipeline/detection_presets';
import { makeTempDir, removeDir, writeSolidJpeg } from '../pipeline/make_images';
import { sharedSkipNote } from '../../helpers/shared';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const SHARED = path.resolve(repoRoot, '..', 'shared', 'datasets');
const FIXTURE = path.join(repoRoot, 'test', 'fixtures', 'coco_images');

/** Images are 5 wide, 4 high. Category ids with holes: 1, 3, 90 → labels 0, 1, 2. */
function generated(): CocoDatasetJson {
  return {
    images: [
      { id: 5, file_name: 'five.jpg', width: 5, height: 4 },
      { id: 7, file_name: 'seven.jpg', width: 5, height: 4 }, // no annotation
      { id: 9, file_name: 'nine.jpg', width: 5, height: 4 }, // crowd only
    ],
    categories: [{ id: 90, name: 'toothbrush' }, { id: 1, name: 'person' }, { id: 3, name: 'car' }],
    annotations: [
      // Polygon: the rectangle x 1..3, y 1..3 → pixels x in {1, 2}, y in {1, 2} (bbox [1,1,2,2] covers 2x2 pixels).
      { id: 10, image_id: 5, category_id: 3, bbox: [1, 1, 2, 2], area: 4, iscrowd: 0, segmentation: [[1, 1, 3, 1, 3, 3, 1, 3]] },
      // Uncompressed RLE, column-major: 16 zeros (columns x = 0..3), then 4 ones → the column x = 4.
      { id: 11, image_id: 5, category_id: 90, bbox: [4, 0, 1, 4], area: 4, iscrowd: 1, segmentation: { size: [4, 5], counts: [16, 4] } },
      // Reaches outside W = 5, H = 4: [4.5, 3, 6.5, 5] clipped to [4.5, 3, 5, 4].
      { id: 12, image_id: 5, category_id: 1, bbox: [4.5, 3, 2, 2], area: 4, iscrowd: 0, segmentation: [[4.5, 3, 6.5, 3, 6.5, 5]] },
      // Entirely right of the image: nothing left after clipping → dropped.
      { id: 13, image_id: 5, category_id: 1, bbox: [5, 0, 2, 2], area: 4, iscrowd: 0, segmentation: [[5, 0, 7, 0, 7, 2]] },
      // Compressed RLE "0d0": counts [0, 20], the whole 4x5 image (LEB128-style chars '0' = 0, 'd' '0' = 20).
      { id: 14, image_id: 9, category_id: 1, bbox: [0, 0, 5, 4], area: 20, iscrowd: 1, segmentation: { size: [4, 5], counts: '0d0' } },
    ],
  };
}

describe('CocoDetection', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('cocods');
    await writeSolidJpeg(path.join(dir, 'five.jpg'), 4, 5, [1, 2, 3]);
    await writeSolidJpeg(path.join(dir, 'seven.jpg'), 5, 5, [1, 2, 3]); // wrong size: 5 high
  });
  after(() => removeDir(dir));

  it('contiguous labels over sorted category ids (1, 3, 90 → 0, 1, 2) and back', () => {
    const ds = new CocoDetection(new Coco(generated(), 'gen.json'), dir);
    expect(Array.from(ds.labelToCategoryId)).to.deep.equal([1, 3, 90]);
    expect(ds.classes).to.deep.equal(['person', 'car', 'toothbrush']);
    expect(ds.categoryIdToLabel(90)).to.equal(2);
    expect(() => ds.categoryIdToLabel(2)).to.throw(/gen\.json: category_id 2 is not in "categories"/);
  });

  it('xywh → xyxy, clipping, dropping, crowd flags, empty images kept', () => {
    const ds = new CocoDetection(new Coco(generated(), 'gen.json'), dir);
    expect(ds.records.map((r) => r.imageId)).to.deep.equal([5, 7, 9]);
    const r = ds.records[0];
    expect(Array.from(r.target.boxes)).to.deep.equal([1, 1, 3, 3, 4, 0, 5, 4, 4.5, 3, 5, 4]);
    expect(Array.from(r.target.labels)).to.deep.equal([1, 2, 0]);
    expect(Array.from(r.target.iscrowd!)).to.deep.equal([0, 1, 0]);
    expect(r.annotationIds).to.deep.equal([10, 11, 12]);
    expect(ds.issues.map((i) => [i.code, i.record])).to.deep.equal([
      ['box-outside-image', 'annotation id 12 (image id 5)'],
      ['degenerate-box', 'annotation id 13 (image id 5)'],
    ]);
    expect(ds.records[1].target.labels.length).to.equal(0);
  });

  it('filterEmpty drops images without non-crowd annotations; dropCrowd drops crowd boxes', () => {
    const f = new CocoDetection(new Coco(generated(), 'gen.json'), dir, { filterEmpty: true });
    expect(f.records.map((r) => r.imageId)).to.deep.equal([5]);
    const d = new CocoDetection(new Coco(generated(), 'gen.json'), dir, { dropCrowd: true });
    expect(d.records[0].annotationIds).to.deep.equal([10, 12]);
    expect(d.records[2].annotationIds).to.deep.equal([]);
  });

  it('masks on demand: polygon, uncompressed RLE, compressed RLE → row-major [M, H, W]', () => {
    const ds = new CocoDetection(new Coco(generated(), 'gen.json'), dir);
    const { masks, height, width } = ds.instanceMasks(0);
    expect([height, width]).to.deep.equal([4, 5]);
    const rows = (m: number): string[] => [0, 1, 2, 3].map((y) => Array.from(masks.subarray((m * 4 + y) * 5, (m * 4 + y + 1) * 5)).join(''));
    expect(rows(0)).to.deep.equal(['00000', '01100', '01100', '00000']);
    expect(rows(1)).to.deep.equal(['00001', '00001', '00001', '00001']);
    const crowd = ds.instanceMasks(2);
    expect(Array.from(crowd.masks)).to.deep.equal(new Array(20).fill(1));
  });

  it('errors name the file and the record', () => {
    const unknown = generated();
    unknown.annotations.push({ id: 20, image_id: 5, category_id: 2, bbox: [0, 0, 1, 1], iscrowd: 0 });
    expect(() => new CocoDetection(new Coco(unknown, 'u.json'), dir)).to.throw(/u\.json \(annotation id 20 \(image id 5\)\): category_id 2 is not in "categories"/);
    const dup = generated();
    dup.annotations.push({ ...dup.annotations[0] });
    expect(() => new CocoDetection(new Coco(dup, 'd.json'), dir)).to.throw(/d\.json \(annotation id 10\): annotation id appears twice/);
    const badBox = generated();
    badBox.annotations[0].bbox = [0, 0, -1, 2];
    expect(() => new CocoDetection(new Coco(badBox, 'b.json'), dir)).to.throw(/b\.json \(annotation id 10 \(image id 5\)\): bbox must be/);
    const collected = new CocoDetection(new Coco(badBox, 'b.json'), dir, { collectIssues: true });
    expect(collected.issues.filter((i) => i.severity === 'error').length).to.equal(1);
  });

  it("annotationIdProblems 'warn': every annotation kept, one warning line (count, ids, pycocotools, the fix)", () => {
    const dup = generated();
    dup.annotations.push({ ...dup.annotations[0] }, { ...dup.annotations[2], id: 0 });
    const ds = new CocoDetection(new Coco(dup, 'd.json'), dir, { annotationIdProblems: 'warn' });
    expect(ds.records[0].annotationIds).to.deep.equal([10, 11, 12, 10, 0]);
    const idIssues = ds.issues.filter((i) => i.code === 'duplicate-id');
    expect(idIssues).to.have.length(1);
    expect(formatIssue(idIssues[0])).to.equal(
      'warning [duplicate-id] d.json (annotation ids): 3 annotation(s) have id 0 or an id another annotation also has ' +
        '(ids 10, 0); the numbers follow pycocotools, which keeps only the last annotation of each id and never counts ' +
        'a match to id 0, so they differ from those of the same file with unique ids; fix the file: give every ' +
        'annotation a unique id >= 1 (e.g. renumber them 1..N)',
    );
    // Default: each is an error (the data checker collects them).
    const strict = new CocoDetection(new Coco(dup, 'd.json'), dir, { collectIssues: true });
    expect(strict.issues.filter((i) => i.severity === 'error').map((i) => i.record)).to.deep.equal(['annotation id 10', 'annotation id 0']);
  });

  it('annotations without "iscrowd": taken as 0 (kept as non-crowd boxes), one warning with the count', () => {
    const json = generated();
    for (const a of json.annotations) delete (a as { iscrowd?: number }).iscrowd;
    const ds = new CocoDetection(new Coco(json, 'nocrowd.json'), dir);
    expect(Array.from(ds.records[0].target.iscrowd!)).to.deep.equal(ds.records[0].annotationIds.map(() => 0));
    const warnings = ds.issues.filter((i) => i.record === 'annotations').map(formatIssue);
    expect(warnings).to.deep.equal([
      `warning [bad-record] nocrowd.json (annotations): ${json.annotations.length} of ${json.annotations.length} annotation(s) ` +
        'have no "iscrowd"; taken as 0 (not a crowd region)',
    ]);
  });

  it('width/height checked against the decoded image, naming the file and image id', async () => {
    const ds = new CocoDetection(new Coco(generated(), 'gen.json'), dir);
    const ok = await loadDetectionSample(ds.records[0]);
    expect([ok.image.height, ok.image.width]).to.deep.equal([4, 5]);
    await loadDetectionSample(ds.records[1]).then(
      () => expect.fail('should throw'),
      (e: Error) => expect(e.message).to.match(/seven\.jpg' \(image id 7 in 'gen\.json'\) is 5x5 \(HxW\) after decoding, but the annotation says 4x5/));
  });

  it('fixture (two CC BY val2017 images): decoded sizes match, boxes xyxy, labels over 80 ids with holes', async () => {
    const ds = CocoDetection.fromFile(path.join(FIXTURE, 'instances_val2017_subset.json'), path.join(FIXTURE, 'val2017'));
    expect(ds.numClasses).to.equal(80);
    const r = ds.records.find((x) => x.imageId === 6818)!;
    // bbox [186.97, 471.83, 100.67, 56.09] → xyxy [186.97, 471.83, 287.64, 527.92] (float32 storage).
    expect(Array.from(r.target.boxes)).to.deep.equal(Array.from(Float32Array.from([186.97, 471.83, 186.97 + 100.67, 471.83 + 56.09])));
    // category 70: ids 1..70 less the holes 12, 26, 29, 30, 45, 66, 68, 69 → the 62nd id → label 61.
    expect(Array.from(r.target.labels)).to.deep.equal([61]);
    for (const rec of ds.records) {
      const s = await loadDetectionSample(rec);
      expect([s.image.width, s.image.height]).to.deep.equal([rec.width, rec.height]);
    }
  });
});

describe(`CocoDetection (shared coco-tiny)${sharedSkipNote()}`, function () {
  before(async function () {
    if (!(await fs.stat(SHARED).catch(() => null))) this.skip(); // ../shared absent: nothing to read
  });

  for (const [split, images, anns, nonEmpty] of [['train', 50, 470, 49], ['val', 50, 382, 48]] as const) {
    it(`${split}2017: ${images} images, ${anns} instances, ${nonEmpty} after filterEmpty; crowd masks cover the RLE's ones`, () => {
      const base = path.join(SHARED, 'coco-tiny', 'tiny_coco');
      const ds = CocoDetection.fromFile(path.join(base, 'annotations', `instances_${split}2017.json`), path.join(base, `${split}2017`));
      expect(ds.records.length).to.equal(images);
      expect(ds.records.reduce((n, r) => n + r.target.labels.length, 0)).to.equal(anns);
      expect(ds.issues).to.deep.equal([]);
      const f = new CocoDetection(ds.coco, path.join(base, `${split}2017`), { filterEmpty: true });
      expect(f.records.length).to.equal(nonEmpty);
      let crowd = 0;
      ds.records.forEach((r, i) => {
        if (!r.target.iscrowd!.some((c) => c === 1)) return;
        const { masks } = ds.instanceMasks(i);
        const hw = r.height * r.width;
        r.annotationIds.forEach((id, m) => {
          if (!r.target.iscrowd![m]) return;
          crowd++;
          let area = 0;
          for (let p = m * hw; p < (m + 1) * hw; p++) area += masks[p];
          // Oracle: the uncompressed counts themselves (runs alternate 0s and 1s from 0s: ones = odd-indexed runs).
          // COCO's own `area` of crowd regions is not usable here: it was measured before RLE encoding (6443 vs
          // 6125 ones for val annotation 900100087038).
          const counts = (ds.coco.anns.get(id)!.segmentation as { counts: number[] }).counts;
          expect(area, `annotation ${id}`).to.equal(counts.filter((_, k) => k % 2 === 1).reduce((a, b) => a + b, 0));
        });
      });
      expect(crowd).to.equal(5);
    });
  }
});
