import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { Coco } from '../../../datasets/coco/coco';
import { rleToString } from '../../../datasets/coco/mask_api';

function gt(): Coco {
  return new Coco(
    {
      images: [
        { id: 7, width: 3, height: 4 },
        { id: 2, width: 10, height: 10 },
      ],
      categories: [
        { id: 5, name: 'cat' },
        { id: 1, name: 'dog' },
      ],
      annotations: [
        { id: 11, image_id: 7, category_id: 5, bbox: [0, 0, 2, 2], area: 4, iscrowd: 0 },
        { id: 12, image_id: 2, category_id: 1, bbox: [1, 1, 2, 2], area: 4, iscrowd: 1 },
        { id: 13, image_id: 7, category_id: 1, bbox: [1, 1, 1, 1], area: 1, iscrowd: 0 },
      ],
    },
    'gt.json',
  );
}

describe('Coco index', () => {
  it('indexes images, categories and annotations as pycocotools createIndex', () => {
    const c = gt();
    expect(c.getImgIds()).to.deep.equal([7, 2]);
    expect(c.getCatIds()).to.deep.equal([5, 1]);
    expect(c.getAnnIds()).to.deep.equal([11, 12, 13]);
    expect(c.getAnnIds({ imgIds: [7] })).to.deep.equal([11, 13]);
    expect(c.getAnnIds({ catIds: [1] })).to.deep.equal([12, 13]);
    expect(c.getAnnIds({ iscrowd: true })).to.deep.equal([12]);
    expect(c.getImgIds({ catIds: [1] }).sort()).to.deep.equal([2, 7]);
    expect(c.getCatIds({ catNms: ['dog'] })).to.deep.equal([1]);
    expect(c.loadImgs([2])[0].width).to.equal(10);
    expect(() => c.loadAnns([99])).to.throw(/no annotation with id 99/);
  });
});

describe('Coco.loadRes', () => {
  it('bbox results: ids 1..N, area = w*h, iscrowd 0, box polygon as segmentation', () => {
    const res = gt().loadRes([
      { image_id: 7, category_id: 5, bbox: [1, 2, 3, 4], score: 0.5 },
      { image_id: 2, category_id: 1, bbox: [0.5, 0, 2, 1.5], score: 0.25 },
    ]);
    const a = res.loadAnns([1, 2]);
    expect(a[0].area).to.equal(12);
    expect(a[1].area).to.equal(3);
    expect(a[0].iscrowd).to.equal(0);
    // x1=1, x2=1+3=4, y1=2, y2=2+4=6 → [[x1,y1, x1,y2, x2,y2, x2,y1]]
    expect(a[0].segmentation).to.deep.equal([[1, 2, 1, 6, 4, 6, 4, 2]]);
    expect(res.getImgIds()).to.deep.equal([7, 2]);
    expect(res.getCatIds()).to.deep.equal([5, 1]);
  });

  it('an unknown image_id anywhere is reported before an earlier record\'s other fault (pycocotools checks image ids first)', () => {
    const records = [
      { image_id: 7, category_id: 5, bbox: [0, 0, 1, 1], score: 'high' },
      { image_id: 3, category_id: 5, bbox: [0, 0, 1, 1], score: 1 },
    ];
    expect(() => gt().loadRes(records)).to.throw(/results\[1\]\.image_id 3 is not in the ground truth/);
    // without the unknown image, the first record's own fault
    expect(() => gt().loadRes(records.slice(0, 1))).to.throw(/results\[0\]\.score must be a finite number, got "high"/);
  });

  it('bbox results: the box polygon is made on first read, kept, assignable, and written by JSON.stringify', () => {
    const res = gt().loadRes([{ image_id: 7, category_id: 5, bbox: [1, 2, 3, 4], score: 0.5 }]);
    const a = res.anns.get(1)!;
    // x1=1, x2=4, y1=2, y2=6 as in the test above
    expect(a.segmentation).to.equal(a.segmentation);
    expect(JSON.parse(JSON.stringify(res.dataset.annotations))).to.deep.equal([
      { id: 1, image_id: 7, category_id: 5, bbox: [1, 2, 3, 4], score: 0.5, area: 12, iscrowd: 0, segmentation: [[1, 2, 1, 6, 4, 6, 4, 2]] },
    ]);
    a.segmentation = [[0, 0, 0, 1, 1, 1]];
    expect(res.loadAnns([1])[0].segmentation).to.deep.equal([[0, 0, 0, 1, 1, 1]]);
    // a segmentation given with the box is kept
    const own = gt().loadRes([{ image_id: 7, category_id: 5, bbox: [1, 2, 3, 4], segmentation: [[1, 1, 2, 2, 1, 2]], score: 0.5 }]);
    expect(own.anns.get(1)!.segmentation).to.deep.equal([[1, 1, 2, 2, 1, 2]]);
  });

  it('a results file read into columns gives the records and warnings of the same list given as objects', () => {
    const records = [
      { image_id: 7, category_id: 5, bbox: [1, 2, 3, 4], score: 0.5 },
      { image_id: 2, category_id: 1, bbox: [0.5, -0, 0, 1.5], score: 0.25 },
      { image_id: 7, category_id: 1, bbox: [2, 3, 5, 9], score: 1e-3 },
    ];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loadres-'));
    try {
      const file = path.join(dir, 'dt.json');
      fs.writeFileSync(file, JSON.stringify(records));
      const fromFile = gt().loadRes(file);
      const fromList = gt().loadRes(records);
      expect(JSON.stringify(fromFile.dataset.annotations)).to.equal(JSON.stringify(fromList.dataset.annotations));
      expect(fromFile.warnings.map((w) => w.replace(file, '<results>'))).to.deep.equal(fromList.warnings);
      expect(fromFile.warnings).to.have.length(2); // a zero width; 1 of 3 boxes past its image
      const a = fromFile.anns.get(3)!;
      expect(a.bbox).to.deep.equal([2, 3, 5, 9]);
      expect(a.bbox).to.equal(a.bbox);
      expect(a.area).to.equal(45);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a results file read into columns: evaluation reads the columns until the records are made, then the records', () => {
    const records = [
      { image_id: 7, category_id: 5, bbox: [0, 0, 2, 2], score: 0.5 },
      { image_id: 2, category_id: 1, bbox: [1, 1, 2, 2], score: 0.25 },
    ];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loadres-'));
    try {
      const file = path.join(dir, 'dt.json');
      fs.writeFileSync(file, JSON.stringify(records));
      const res = gt().loadRes(file);
      const table = res.resultTable!;
      expect(Array.from(table.imageId)).to.deep.equal([7, 2]);
      expect(Array.from(table.categoryId)).to.deep.equal([5, 1]);
      expect(Array.from(table.bbox)).to.deep.equal([0, 0, 2, 2, 1, 1, 2, 2]);
      expect(Array.from(table.score)).to.deep.equal([0.5, 0.25]);
      expect(Array.from(table.area)).to.deep.equal([4, 4]);
      // the first read of the records makes them once, and they replace the columns
      const anns = res.dataset.annotations;
      expect(res.dataset.annotations).to.equal(anns);
      expect(res.resultTable).to.equal(undefined);
      expect(anns.map((a) => [a.id, a.image_id, a.category_id, a.score, a.area, a.iscrowd])).to.deep.equal([[1, 7, 5, 0.5, 4, 0], [2, 2, 1, 0.25, 4, 0]]);
      expect(res.imgToAnns.get(2)).to.deep.equal([anns[1]]);
      // an assigned list is kept as given
      const again = gt().loadRes(file);
      again.dataset.annotations = [];
      expect(again.dataset.annotations).to.deep.equal([]);
      expect(again.resultTable).to.equal(undefined);
      expect(Object.keys(gt().loadRes(file).dataset)).to.include('annotations');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('results index: anns by id (1..N) and catToImgs, built on first use, as for a ground truth', () => {
    const res = gt().loadRes([
      { image_id: 7, category_id: 5, bbox: [1, 2, 3, 4], score: 0.5 },
      { image_id: 2, category_id: 5, bbox: [0, 0, 1, 1], score: 0.25 },
    ]);
    expect(res.uniqueAnnotationIds).to.equal(true);
    expect([...res.anns.keys()]).to.deep.equal([1, 2]);
    expect(res.anns.get(2)!.image_id).to.equal(2);
    expect(res.catToImgs.get(5)).to.deep.equal([7, 2]);
    expect(res.getImgIds({ catIds: [5] })).to.deep.equal([7, 2]);
  });

  it('segm results: area and bbox from the RLE', () => {
    // image 7 is h=4 w=3; counts [5,2,2,1,2] = pixels (1,1) (1,2) (2,1) → area 3, bbox [1,1,2,2]
    const counts = rleToString({ h: 4, w: 3, counts: Uint32Array.from([5, 2, 2, 1, 2]) });
    const res = gt().loadRes([{ image_id: 7, category_id: 5, segmentation: { size: [4, 3], counts }, score: 0.9 }]);
    const a = res.loadAnns([1])[0];
    expect(a.area).to.equal(3);
    expect(a.bbox).to.deep.equal([1, 1, 2, 2]);
  });

  const bad: [string, unknown, RegExp][] = [
    ['a non-array', { image_id: 7 }, /must be an array/],
    ['an image not in the ground truth', [{ image_id: 3, category_id: 5, bbox: [0, 0, 1, 1], score: 1 }], /results\[0\]\.image_id 3 is not in the ground truth/],
    ['an unknown category', [{ image_id: 7, category_id: 5, bbox: [0, 0, 1, 1], score: 1 }, { image_id: 7, category_id: 9, bbox: [0, 0, 1, 1], score: 1 }], /results\[1\]\.category_id 9/],
    ['a NaN box value', [{ image_id: 7, category_id: 5, bbox: [0, NaN, 1, 1], score: 1 }], /results\[0\]\.bbox must be/],
    ['a string score', [{ image_id: 7, category_id: 5, bbox: [0, 0, 1, 1], score: '0.5' }], /results\[0\]\.score must be a finite number/],
    ['a record of the wrong type', [{ image_id: 7, category_id: 5, bbox: [0, 0, 1, 1], score: 1 }, 'x'], /results\[1\] is not an object/],
    ['a segmentation of another size', [{ image_id: 7, category_id: 5, segmentation: { size: [3, 4], counts: '<' }, score: 1 }], /results\[0\]\.segmentation\.size \[3, 4\] differs from image 7/],
    ['a segmentation that is not an RLE', [{ image_id: 7, category_id: 5, segmentation: [[0, 0, 1, 1, 2, 2]], score: 1 }], /results\[0\]\.segmentation must be an RLE/],
  ];
  for (const [what, input, re] of bad) {
    it(`rejects ${what}, naming the record and field`, () => {
      expect(() => gt().loadRes(input)).to.throw(re);
    });
  }

  it('an empty list is no detections, with a warning naming the file', () => {
    const res = gt().loadRes([]);
    expect(res.dataset.annotations).to.have.length(0);
    expect(res.getImgIds()).to.deep.equal([7, 2]);
    expect(res.warnings).to.have.length(1);
    expect(res.warnings[0]).to.match(/^<results>: the results list is empty; evaluated as no detections/);
  });

  it('image ids not in the ground truth: one error with the count and the first ten distinct ids', () => {
    const recs = Array.from({ length: 13 }, (_, i) => ({ image_id: 100 + i, category_id: 5, bbox: [0, 0, 1, 1], score: 1 }));
    recs.push({ image_id: 100, category_id: 5, bbox: [0, 0, 1, 1], score: 1 }, { image_id: 7, category_id: 5, bbox: [0, 0, 1, 1], score: 1 });
    expect(() => gt().loadRes(recs)).to.throw(
      "<results>: results[0].image_id 100 is not in the ground truth 'gt.json'; 14 of 15 results have such an image_id " +
        '(13 distinct: 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, ...); the results do not correspond to this set',
    );
  });

  it('image ids written as strings: said so, with how many name a ground-truth image', () => {
    const recs = [
      { image_id: '7', category_id: 5, bbox: [0, 0, 1, 1], score: 1 },
      { image_id: '2', category_id: 5, bbox: [0, 0, 1, 1], score: 1 },
      { image_id: 'x', category_id: 5, bbox: [0, 0, 1, 1], score: 1 },
    ];
    expect(() => gt().loadRes(recs)).to.throw(
      '<results>: results[0].image_id "7" is not in the ground truth \'gt.json\'; 3 of 3 results have such an image_id ' +
        '(3 distinct: "7", "2", "x"); the results do not correspond to this set; 3 of these image_id values are strings ' +
        "(2 name a ground-truth image as text), but the ground truth's ids are numbers: write them as JSON numbers",
    );
  });

  it('boxes with w or h <= 0 are kept as written (area w*h), with one warning: count, first record, likely cause', () => {
    const res = gt().loadRes([
      { image_id: 7, category_id: 5, bbox: [0, 0, -1, 1], score: 1 },
      { image_id: 7, category_id: 5, bbox: [0, 0, 1, 0], score: 1 },
      { image_id: 7, category_id: 5, bbox: [0, 0, 1, 1], score: 1 },
    ]);
    expect(res.loadAnns([1, 2]).map((a) => a.area)).to.deep.equal([-1, 0]);
    expect(res.warnings).to.have.length(1);
    expect(res.warnings[0]).to.match(/^<results>: 2 of 3 boxes have a width or height <= 0 \(first: results\[0\]\.bbox has a negative width: \[0,0,-1,1\]\)/);
    expect(res.warnings[0]).to.match(/IoU 0 with every ground truth\. Likely cause: boxes converted to \[x, y, w, h\] twice/);
  });

  it('many boxes past the image: a warning suggesting xyxy written as xywh; a few, none', () => {
    // image 2 is 10x10: [5,5,9,9] read as xywh ends at 14 > 10 + 1.
    const xyxy = gt().loadRes([
      { image_id: 2, category_id: 5, bbox: [5, 5, 9, 9], score: 1 },
      { image_id: 2, category_id: 5, bbox: [1, 1, 2, 2], score: 1 },
    ]);
    expect(xyxy.warnings).to.deep.equal([
      "<results>: 1 of 2 boxes run more than 1 pixel past their image's right or bottom edge (first: results[0].bbox " +
        '[5,5,9,9] on the 10x10 image 2). Likely cause: boxes written as [x1, y1, x2, y2] (xyxy); COCO results hold ' +
        '[x, y, width, height] (xywh). Evaluated as written',
    ]);
    const few = gt().loadRes([
      { image_id: 2, category_id: 5, bbox: [5, 5, 9, 9], score: 1 },
      ...Array.from({ length: 10 }, () => ({ image_id: 2, category_id: 5, bbox: [1, 1, 2, 2], score: 1 })),
    ]);
    expect(few.warnings).to.deep.equal([]);
  });
});

describe('Coco: messages on hostile values', () => {
  it('a value nested 100000 levels deep is shown cut short, not a stack overflow', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100000; i++) deep = [deep];
    const ds = { images: [], categories: [], annotations: [{ id: deep, image_id: 1, category_id: 1 }] };
    expect(() => new Coco(ds as never, 'deep.json')).to.throw('deep.json: annotations[0].id must be a number, got [[[[...]]]]');
    expect(() => gt().loadRes([{ image_id: 7, category_id: 5, bbox: deep, score: 1 }])).to.throw(
      '<results>: results[0].bbox must be [x, y, w, h] of 4 finite numbers, got [[[[...]]]]');
  });

  it('ground truth and results swapped: each file is named with what it holds', () => {
    expect(() => new Coco([{ image_id: 1 }] as never, 'dt.json')).to.throw(
      'dt.json: annotation file must hold a JSON object {images, annotations, categories}, got an array (a results list? the ground truth is the instances object)');
    expect(() => gt().loadRes({ images: [], annotations: [], categories: [] })).to.throw(
      '<results>: results must be an array of objects, got an instances object with "images" and "annotations" (a ground-truth file: are the two files swapped?)');
  });

  it('segm results on an image without a size: the ground truth is named, not the results', () => {
    const g = new Coco({ images: [{ id: 1 } as never], categories: [{ id: 1 }], annotations: [] }, 'gt.json');
    expect(() => g.loadRes([{ image_id: 1, category_id: 1, segmentation: { size: [2, 2], counts: '04' }, score: 1 }])).to.throw(
      'gt.json: image id 1: height/width must be integers in 0..2^31-1, got undefined/undefined (needed to check results[0].segmentation)');
  });
});

describe('Coco.loadRes: a ground truth at fault is named first', () => {
  const base = () => ({
    images: [{ id: 1, width: 8, height: 8 }],
    categories: [{ id: 1 }],
    annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 2, 2], area: 4, iscrowd: 0 }],
  });
  const res = (image_id: number, category_id: number) => [{ image_id, category_id, bbox: [0, 0, 2, 2], score: 1 }];

  it('no images, or annotations on an image its list lacks: the ground truth is blamed', () => {
    expect(() => new Coco({ ...base(), images: [] }, 'g.json').loadRes(res(1, 1))).to.throw(
      "g.json: the ground truth has no \"images\"; the results '<results>' refer to them (1 of 1); fix the ground truth");
    const lacks = base();
    lacks.images[0].id = 2;
    expect(() => new Coco(lacks, 'g.json').loadRes(res(1, 1))).to.throw(
      "g.json: ground-truth annotations use image ids that its \"images\" list lacks (1); the results '<results>' refer to them (1 of 1); fix the ground truth");
  });

  it('no categories, or annotations of a category its list lacks: the ground truth is blamed; else the results', () => {
    expect(() => new Coco({ ...base(), categories: [] }, 'g.json').loadRes(res(1, 1))).to.throw(
      "g.json: the ground truth has no \"categories\"; results[0] of '<results>' refers to it; fix the ground truth");
    expect(() => new Coco({ ...base(), categories: [{ id: 2 }] }, 'g.json').loadRes(res(1, 1))).to.throw(
      "g.json: ground-truth annotations use category_id 1, which its \"categories\" list lacks; results[0] of '<results>' refers to it; fix the ground truth");
    expect(() => new Coco(base(), 'g.json').loadRes(res(1, 3))).to.throw("<results>: results[0].category_id 3 is not a category of the ground truth 'g.json'");
  });
});

describe('Coco annotation id checks', () => {
  it('id 0 and repeated ids: count, first few ids, how to fix; unique ids: no warning', () => {
    const anns = [0, 3, 3, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9].map((id) => ({ id, image_id: 7, category_id: 5, bbox: [0, 0, 1, 1], area: 1, iscrowd: 0 }));
    const c = new Coco({ images: [{ id: 7, width: 3, height: 4 }], categories: [{ id: 5 }], annotations: anns }, 'ids.json');
    expect(c.warnings).to.deep.equal([
      'ids.json: 11 annotation(s) have id 0 or an id another annotation also has (ids 0, 3, 5, 6, 7, ...); the numbers ' +
        'follow pycocotools, which keeps only the last annotation of each id and never counts a match to id 0, so they ' +
        'differ from those of the same file with unique ids; fix the file: give every annotation a unique id >= 1 ' +
        '(e.g. renumber them 1..N)',
    ]);
    expect(gt().warnings).to.deep.equal([]);
  });
});

describe('Coco.annToRle', () => {
  it('polygons are rasterized at the image size and merged; 4-number lists are boxes, as frPyObjects', () => {
    const c = new Coco({
      images: [{ id: 1, width: 4, height: 4 }],
      categories: [{ id: 1 }],
      annotations: [
        // square (0,0)-(2,2) → rows 0..1 of columns 0..1 (see mask_api tests) plus box [2,2,2,2] → rows 2..3 of columns 2..3
        { id: 1, image_id: 1, category_id: 1, segmentation: [[0, 0, 0, 2, 2, 2, 2, 0], [2, 2, 2, 4, 4, 4, 4, 2]] },
        { id: 2, image_id: 1, category_id: 1, segmentation: [[2, 2, 2, 2]] },
        { id: 3, image_id: 1, category_id: 1, segmentation: { size: [4, 4], counts: [3, 13] } },
      ],
    });
    // foreground indices x*4+y: {0,1,4,5} ∪ {10,11,14,15} → runs 0 zeros, 2 ones, 2 zeros, 2 ones, 4 zeros (6..9), 2, 2, 2
    expect(Array.from(c.annToRle(c.anns.get(1)!).counts)).to.deep.equal([0, 2, 2, 2, 4, 2, 2, 2]);
    expect(Array.from(c.annToRle(c.anns.get(2)!).counts)).to.deep.equal([10, 2, 2, 2]);
    expect(Array.from(c.annToRle(c.anns.get(3)!).counts)).to.deep.equal([3, 13]);
  });

  const withSegm = (segmentation: unknown) =>
    new Coco({ images: [{ id: 1, width: 640, height: 480 }], categories: [{ id: 1 }], annotations: [{ id: 9, image_id: 1, category_id: 1, segmentation } as never] }, 'segm.json');

  it('RLE counts that do not sum to height*width: an error naming the annotation and image (the RLE loops would never end)', () => {
    const c = withSegm({ size: [4, 4], counts: [3, 12] });
    expect(() => c.annToRle(c.anns.get(9)!)).to.throw('segm.json: annotation id 9 (image id 1): segmentation RLE counts sum to 15, expected height*width = 4*4 = 16');
    const neg = withSegm({ size: [4, 4], counts: [3, -1, 14] });
    expect(() => neg.annToRle(neg.anns.get(9)!)).to.throw(/annotation id 9 \(image id 1\): segmentation RLE counts sum to 4294967312/);
  });

  it('a polygon coordinate far outside the image (1.7e8): an error naming the annotation, before any rasterising', () => {
    const c = withSegm([[0, 0, 170000000, 0, 10, 10]]);
    expect(() => c.annToRle(c.anns.get(9)!)).to.throw(
      'segm.json: annotation id 9 (image id 1): segmentation[0][2] = 170000000 (x) lies far outside the 640x480 (WxH) image ' +
        '(polygon coordinates must be within -640..1280); fix the annotation',
    );
    // Within the bound (one image size beyond the edges), the polygon is rasterised as pycocotools does.
    const ok = withSegm([[-640, -640, 1280, 0, 0, 1120]]);
    expect(ok.annToRle(ok.anns.get(9)!).h).to.equal(480);
  });

  it("an image without a size is blamed on the ground truth, not on the results that point at it", () => {
    const g = new Coco({ images: [{ id: 1 } as never], categories: [{ id: 1 }], annotations: [] }, 'gt.json');
    const res = g.loadRes([{ image_id: 1, category_id: 1, bbox: [0, 0, 2, 2], score: 1 }]);
    expect(() => res.annToRle(res.anns.get(1)!)).to.throw(/^gt\.json: image id 1: height\/width must be integers in 0\.\.2\^31-1, got undefined\/undefined/);
  });
});

describe('Coco.loadRes with a malformed ground-truth image size', () => {
  it('a height nested 100,000 arrays deep is not compared with the results (no stack overflow)', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const c = new Coco(
      { images: [{ id: 7, width: 3, height: deep as number }], categories: [{ id: 5 }], annotations: [] },
      'gt.json',
    );
    const res = c.loadRes([{ image_id: 7, category_id: 5, bbox: [0, 0, 10, 10], score: 0.9 }]);
    expect(res.getAnnIds()).to.deep.equal([1]);
    expect(res.warnings.join('\n')).to.not.match(/past the image/);
  });
});

describe('Coco.loadRes with ground-truth categories that cannot be copied', () => {
  it('a category name nested 100,000 arrays deep: one error naming the ground truth, not a stack overflow', () => {
    let deep: unknown = 'dog';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const c = new Coco({ images: [{ id: 7, width: 3, height: 4 }], categories: [{ id: 5, name: deep as string }], annotations: [] }, 'gt.json');
    expect(() => c.loadRes([{ image_id: 7, category_id: 5, bbox: [0, 0, 1, 1], score: 0.9 }])).to.throw(
      /^gt\.json: "categories" cannot be copied for the results of '<results>' \(Maximum call stack size exceeded; a value nested too deep\?\); fix the ground truth$/,
    );
  });
});
