import { expect } from 'chai';

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

  it('segm results: area and bbox from the RLE', () => {
    // image 7 is h=4 w=3; counts [5,2,2,1,2] = pixels (1,1) (1,2) (2,1) → area 3, bbox [1,1,2,2]
    const counts = rleToString({ h: 4, w: 3, counts: Uint32Array.from([5, 2, 2, 1, 2]) });
    const res = gt().loadRes([{ image_id: 7, category_id: 5, segmentation: { size: [4, 3], counts }, score: 0.9 }]);
    const a = res.loadAnns([1])[0];
    expect(a.area).to.equal(3);
    expect(a.bbox).to.deep.equal([1, 1, 2, 2]);
  });

  const bad: [string, unknown, RegExp][] = [
    ['an empty list', [], /results list is empty/],
    ['a non-array', { image_id: 7 }, /must be an array/],
    ['an image not in the ground truth', [{ image_id: 3, category_id: 5, bbox: [0, 0, 1, 1], score: 1 }], /results\[0\]\.image_id 3 is not in the ground truth/],
    ['an unknown category', [{ image_id: 7, category_id: 5, bbox: [0, 0, 1, 1], score: 1 }, { image_id: 7, category_id: 9, bbox: [0, 0, 1, 1], score: 1 }], /results\[1\]\.category_id 9/],
    ['a NaN box value', [{ image_id: 7, category_id: 5, bbox: [0, NaN, 1, 1], score: 1 }], /results\[0\]\.bbox must be/],
    ['a negative width', [{ image_id: 7, category_id: 5, bbox: [0, 0, -1, 1], score: 1 }], /results\[0\]\.bbox has a negative width/],
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
});
