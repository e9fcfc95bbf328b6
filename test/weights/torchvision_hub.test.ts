import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { CATEGORIES, COCO_CATEGORIES, IMAGENET_CATEGORIES, VOC_CATEGORIES } from '../../src/weights/categories';
import { TORCHVISION_BASE_URL, TORCHVISION_DEFAULT_WEIGHTS, TORCHVISION_WEIGHTS } from '../../src/weights/torchvision_hub';

/** test/golden/torchvision_weights.json, written by scripts/parity/gen_torchvision_weights.py from torchvision's enums. */
interface Golden {
  torchvision: string;
  weights: Record<string, { url: string; categories: string; numParams: number; metrics: Record<string, number> }>;
  defaults: Record<string, string>;
  categories: Record<string, string[]>;
}
const golden = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', 'golden', 'torchvision_weights.json'), 'utf-8')) as Golden;

describe(`TORCHVISION_WEIGHTS (against torchvision ${golden.torchvision})`, () => {
  it('the same names, each with the published URL, class list, parameter count and metrics', () => {
    expect(Object.keys(TORCHVISION_WEIGHTS)).to.deep.equal(Object.keys(golden.weights));
    for (const [name, want] of Object.entries(golden.weights)) {
      const e = TORCHVISION_WEIGHTS[name as keyof typeof TORCHVISION_WEIGHTS];
      expect(TORCHVISION_BASE_URL + e.fileName, name).to.equal(want.url);
      expect(e.categories, name).to.equal(want.categories);
      expect(e.numParams, name).to.equal(want.numParams);
      expect(e.metricsPercent, name).to.deep.equal(want.metrics);
    }
  });

  it("every file name carries an 8-digit SHA-256 prefix where torch.hub's HASH_REGEX finds it", () => {
    for (const e of Object.values(TORCHVISION_WEIGHTS)) expect(e.fileName).to.match(/^[a-z0-9_]+-[0-9a-f]{8}\.pth$/);
  });

  it('DEFAULT of each builder as torchvision sets it, and it names a table entry', () => {
    expect(TORCHVISION_DEFAULT_WEIGHTS).to.deep.equal(golden.defaults);
    for (const [model, member] of Object.entries(TORCHVISION_DEFAULT_WEIGHTS)) expect(TORCHVISION_WEIGHTS).to.have.property(`${model}.${member}`);
  });
});

describe('CATEGORIES (torchvision models/_meta.py)', () => {
  it('ImageNet 1000, COCO 91 by category id, VOC 21: equal to the lists the weights carry in torchvision', () => {
    expect(IMAGENET_CATEGORIES).to.deep.equal(golden.categories.imagenet);
    expect(COCO_CATEGORIES).to.deep.equal(golden.categories.coco);
    expect(VOC_CATEGORIES).to.deep.equal(golden.categories.voc);
    expect([IMAGENET_CATEGORIES.length, COCO_CATEGORIES.length, VOC_CATEGORIES.length]).to.deep.equal([1000, 91, 21]);
    // COCO's category id 1 is person and 90 toothbrush; torchvision keeps ids as labels, with 'N/A' in the gaps.
    expect([COCO_CATEGORIES[0], COCO_CATEGORIES[1], COCO_CATEGORIES[12], COCO_CATEGORIES[90]]).to.deep.equal(['__background__', 'person', 'N/A', 'toothbrush']);
    expect(CATEGORIES.voc).to.equal(VOC_CATEGORIES);
  });
});
