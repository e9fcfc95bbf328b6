import { expect } from 'chai';
import * as path from 'path';
import { SeedSequence } from '../../../src/common/seed';
import { classificationEvalTransform, classificationTrainTransform } from '../../../datasets/pipeline/classification_presets';
import { decodeImage } from '../../../datasets/pipeline/decode';
import { normalizeImage } from '../../../datasets/pipeline/normalize';
import { centerCropWindow, randomResizedCropWindow, resizeShorterSideSize } from '../../../datasets/pipeline/transforms';
import { makeTempDir, patternImage, removeDir, writePng } from './make_images';

describe('classification presets', () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await makeTempDir('presets');
    file = await writePng(path.join(dir, 'p.png'), patternImage(45, 60), 45, 60);
  });
  after(async () => { await removeDir(dir); });

  it('eval(resize 32, crop 28) of 45x60 = normalize(Resize 32 → 32x42, CenterCrop 28 at (2, 7)) ', async () => {
    const t = classificationEvalTransform({ resizeSize: 32, cropSize: 28 });
    const s = await t({ file, label: 4 }, new SeedSequence(0));
    expect([s.image.height, s.image.width, s.label]).to.deep.equal([28, 28, 4]);
    // 45x60: short 45 → 32, long floor(32*60/45) = 42; crop top round(2) = 2, left round(7) = 7.
    expect(resizeShorterSideSize(45, 60, 32)).to.deep.equal({ height: 32, width: 42 });
    expect(centerCropWindow(32, 42, { height: 28, width: 28 })).to.deep.include({ top: 2, left: 7 });
    const ref = await decodeImage(file, { resize: { height: 32, width: 42 }, postCrop: { top: 2, left: 7, height: 28, width: 28 } });
    expect(Array.from(s.image.data)).to.deep.equal(Array.from(normalizeImage(ref.image).data));
    expect(s.meta.cropXyxy[0]).to.be.closeTo(7 * 60 / 42, 1e-9);
  });

  it('train: same seed → same sample; the window is randomResizedCropWindow of that seed', async () => {
    const t = classificationTrainTransform({ size: 24, flipProbability: 0 });
    const a = await t({ file, label: 1 }, new SeedSequence(11));
    const b = await t({ file, label: 1 }, new SeedSequence(11));
    expect(Array.from(a.image.data)).to.deep.equal(Array.from(b.image.data));
    const win = randomResizedCropWindow(45, 60, new SeedSequence(11));
    expect(a.meta.cropXyxy).to.deep.equal([win.left, win.top, win.left + win.width, win.top + win.height]);
    const ref = await decodeImage(file, { crop: win, resize: { height: 24, width: 24 } });
    expect(Array.from(a.image.data)).to.deep.equal(Array.from(normalizeImage(ref.image).data));
  });

  it('train: flipProbability 1 gives the mirror of flipProbability 0 for the same seed', async () => {
    const noFlip = await classificationTrainTransform({ size: 16, flipProbability: 0 })({ file, label: 0 }, new SeedSequence(3));
    const flip = await classificationTrainTransform({ size: 16, flipProbability: 1 })({ file, label: 0 }, new SeedSequence(3));
    expect(flip.meta.flipped).to.equal(true);
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 16; x++) {
        for (let c = 0; c < 3; c++) expect(flip.image.data[(y * 16 + x) * 3 + c]).to.equal(noFlip.image.data[(y * 16 + 15 - x) * 3 + c]);
      }
    }
  });
});
