import { expect } from 'chai';
import { promises as fs, existsSync } from 'fs';
import * as path from 'path';
import { SeedSequence } from '../../../src/common/seed';
import { imageFolderDataset, scanImageFolder, type SkippedFile } from '../../../datasets/image_folder/image_folder';
import { DataLoader, collateClassification, disposeClassificationBatch } from '../../../datasets/loader';
import { classificationEvalTransform } from '../../../datasets/pipeline/classification_presets';
import { decodeImage } from '../../../datasets/pipeline/decode';
import { expectNoLeak } from '../../helpers/tensors';
import { makeTempDir, patternImage, removeDir, writePng, writeSolidJpeg } from '../pipeline/make_images';
import { sharedSkipNote } from '../../helpers/shared';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const HYMENOPTERA = path.resolve(repoRoot, '..', 'shared', 'datasets', 'hymenoptera', 'hymenoptera_data');

describe('scanImageFolder (generated tree)', () => {
  let root: string;
  before(async () => {
    root = await makeTempDir('imagefolder');
    // Classes created out of order; 'zebra' has a nested folder; junk files of several kinds.
    for (const d of ['zebra/sub', 'cat', 'Dog', 'cat/.cache']) await fs.mkdir(path.join(root, d), { recursive: true });
    await writeSolidJpeg(path.join(root, 'zebra', 'b.JPG'), 20, 30, [10, 200, 10]);
    await writePng(path.join(root, 'zebra', 'sub', 'a.png'), patternImage(12, 9), 12, 9);
    await writeSolidJpeg(path.join(root, 'zebra', 'c.jpeg'), 8, 8, [0, 0, 0]);
    await writeSolidJpeg(path.join(root, 'cat', 'x.jpg'), 16, 16, [200, 10, 10]);
    await fs.writeFile(path.join(root, 'cat', 'readme.txt'), 'hello');
    await fs.writeFile(path.join(root, 'cat', 'anim.gif'), 'GIF89a');
    await fs.writeFile(path.join(root, 'cat', '.cache', 'y.jpg'), 'x');
    await writePng(path.join(root, 'Dog', 'd.webp.png'), patternImage(5, 5), 5, 5);
    await fs.writeFile(path.join(root, 'not_a_class.jpg'), 'x');
  });
  after(async () => { await removeDir(root); });

  it('classes sorted by code point (Dog < cat < zebra), labels = order; files in walk order; junk skipped with reasons', async () => {
    let warned: SkippedFile[] = [];
    const f = await scanImageFolder(root, { onSkipped: (s) => { warned = s; } });
    expect(f.classes).to.deep.equal(['Dog', 'cat', 'zebra']);
    expect(f.classToIndex).to.deep.equal({ Dog: 0, cat: 1, zebra: 2 });
    // zebra: folder 'zebra' (b.JPG, c.jpeg) before 'zebra/sub' (a.png), as sorted(os.walk) in torchvision.
    expect(f.samples.map((s) => [path.relative(root, s.file), s.label])).to.deep.equal([
      ['Dog/d.webp.png', 0], ['cat/x.jpg', 1], ['zebra/b.JPG', 2], ['zebra/c.jpeg', 2], ['zebra/sub/a.png', 2]]);
    expect(warned.map((s) => [path.relative(root, s.file), s.reason.split(' ')[0]]).sort()).to.deep.equal([
      ['cat/.cache/y.jpg', 'hidden'], ['cat/anim.gif', 'extension'], ['cat/readme.txt', 'extension']]);
    expect(f.skipped).to.deep.equal(warned);
  });

  it('an empty class folder → error naming the folder and the extensions', async () => {
    await fs.mkdir(path.join(root, 'empty_class'));
    try {
      let err: unknown;
      try { await scanImageFolder(root, { onSkipped: () => undefined }); } catch (e) { err = e; }
      expect(String(err)).to.include(path.join(root, 'empty_class'));
      expect(String(err)).to.match(/no valid image in class folder.*supported extensions: \.jpg/);
    } finally {
      await fs.rmdir(path.join(root, 'empty_class'));
    }
  });

  it('missing root and root without sub-folders throw', async () => {
    let err: unknown;
    try { await scanImageFolder(path.join(root, 'nope')); } catch (e) { err = e; }
    expect(String(err)).to.match(/cannot list root .*nope/);
    err = undefined;
    try { await scanImageFolder(path.join(root, 'cat', '.cache')); } catch (e) { err = e; }
    expect(String(err)).to.match(/no class sub-folder/);
  });

  it('as a dataset through the eval transform and the loader: labels and pixels, no leak', async () => {
    const f = await scanImageFolder(root, { onSkipped: () => undefined });
    const ds = imageFolderDataset(f, classificationEvalTransform({ resizeSize: 8, cropSize: 4 }));
    const s = await ds.get(1, new SeedSequence(0)); // cat/x.jpg, solid (200, 10, 10)
    expect(s.label).to.equal(1);
    // A solid JPEG decodes within a few levels of its colour; normalized R ≈ (200/255 - 0.485)/0.229 = 1.307.
    expect(s.image.data[0]).to.be.closeTo((200 / 255 - 0.485) / 0.229, 0.1);
    await expectNoLeak(async () => {
      const dl = new DataLoader(ds, { batchSize: 2, collate: collateClassification });
      const labels: number[] = [];
      for await (const b of dl.epoch(0)) {
        labels.push(...(await b.labels.data()));
        disposeClassificationBatch(b);
      }
      expect(labels).to.deep.equal([0, 1, 2, 2, 2]);
    });
  });
});

describe(`scanImageFolder (hymenoptera from ../shared)${sharedSkipNote('datasets/hymenoptera')}`, function () {
  before(function () {
    if (!existsSync(HYMENOPTERA)) this.skip(); // a user's clone has no ../shared: nothing to read
  });

  it('train: 2 classes ants/bees, 30 + 30 JPEGs; imageNotFound.gif skipped with a reason (not in IMG_EXTENSIONS)', async () => {
    let skipped: SkippedFile[] = [];
    const f = await scanImageFolder(path.join(HYMENOPTERA, 'train'), { onSkipped: (s) => { skipped = s; } });
    expect(f.classes).to.deep.equal(['ants', 'bees']);
    expect(f.samples.filter((s) => s.label === 0).length).to.equal(30);
    expect(f.samples.filter((s) => s.label === 1).length).to.equal(30);
    expect(skipped.map((s) => path.basename(s.file))).to.deep.equal(['imageNotFound.gif']);
    expect(skipped[0].reason).to.match(/extension not in/);
  });

  it('val: 30 + 30, nothing skipped', async () => {
    const f = await scanImageFolder(path.join(HYMENOPTERA, 'val'), { onSkipped: () => { throw new Error('unexpected skip'); } });
    expect(f.classes).to.deep.equal(['ants', 'bees']);
    expect([0, 1].map((l) => f.samples.filter((s) => s.label === l).length)).to.deep.equal([30, 30]);
  });

  it('the GIF placeholder itself decodes (first frame, 300x300 RGB) when asked for explicitly', async () => {
    const { image } = await decodeImage(path.join(HYMENOPTERA, 'train', 'ants', 'imageNotFound.gif'));
    expect([image.height, image.width, image.data.length]).to.deep.equal([300, 300, 300 * 300 * 3]);
  });
});
