import { expect } from 'chai';
import { COCO_TO_VOC_NAMES, LabelMap, labelMapByCategoryId, labelMapByName } from '../../datasets/category_map';
import { COCO_CATEGORIES, VOC_CATEGORIES } from '../../src/weights/categories';

describe('category_map: a detector label space onto a split', () => {
  it('by category id: torchvision RetinaNet labels (= COCO ids) onto a split with ids [70, 13, 1]; background and N/A match nothing', () => {
    const sourceIds = COCO_CATEGORIES.map((n, id) => (n === '__background__' || n === 'N/A' ? -1 : id));
    const map = labelMapByCategoryId(sourceIds, [70, 13, 1]);
    expect(map.length).to.equal(91);
    expect([map[70], map[13], map[1]]).to.deep.equal([0, 1, 2]);
    expect([...map].filter((t) => t >= 0)).to.have.length(3);
    expect(map[0]).to.equal(-1);
    expect(map[12]).to.equal(-1); // 'N/A'
  });

  it('by category id: Faster R-CNN labels l carry id l + 1; a split class without category (-1) matches nothing', () => {
    const sourceIds = Array.from({ length: 90 }, (_, l) => l + 1);
    const map = labelMapByCategoryId(sourceIds, [3, -1, 1]);
    expect(map[0]).to.equal(2); // id 1
    expect(map[2]).to.equal(0); // id 3
    expect([...map].filter((t) => t >= 0)).to.have.length(2);
  });

  it("by name: COCO's 80 names onto VOC's 20 through the six renamed classes", () => {
    const voc = VOC_CATEGORIES.slice(1);
    const map = labelMapByName(COCO_CATEGORIES, voc);
    const matched = [...map.keys()].filter((l) => map[l] >= 0).map((l) => [COCO_CATEGORIES[l], voc[map[l]]]);
    expect(matched).to.have.length(20);
    for (const [coco, v] of Object.entries(COCO_TO_VOC_NAMES)) expect(matched).to.deep.include([coco, v]);
    expect(matched).to.deep.include(['person', 'person']);
    expect(map[COCO_CATEGORIES.indexOf('giraffe')]).to.equal(-1);
  });

  it('LabelMap.apply relabels, keeps order and boxes, drops and counts the unmapped; a label out of range throws', () => {
    const lm = new LabelMap(Int32Array.from([-1, 1, 0]));
    expect(lm.mapped).to.equal(2);
    const out = lm.apply({
      boxes: Float32Array.from([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]),
      scores: Float32Array.from([0.9, 0.8, 0.7]),
      labels: Int32Array.from([2, 0, 1]),
    });
    expect([...out.labels]).to.deep.equal([0, 1]);
    expect([...out.scores].map((s) => +s.toFixed(3))).to.deep.equal([0.9, 0.7]);
    expect([...out.boxes]).to.deep.equal([0, 0, 1, 1, 4, 4, 5, 5]);
    expect(lm.dropped).to.equal(1);
    expect(() => lm.apply({ boxes: new Float32Array(4), scores: new Float32Array(1), labels: Int32Array.from([3]) })).to.throw('label 3 is not in 0..2');
  });
});
