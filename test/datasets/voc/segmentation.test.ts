import { expect } from 'chai';
import { promises as fs } from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { vocColormap } from '../../../datasets/pipeline/png_index';
import { loadSegmentationSample } from '../../../datasets/pipeline/segmentation_presets';
import { rerootPath, scanVocSegmentation } from '../../../datasets/voc/segmentation';
import { makeTempDir, removeDir, writeSolidJpeg } from '../pipeline/make_images';
import { encodePng } from '../pipeline/png_writer';
import { sharedSkipNote } from '../../helpers/shared';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const SHARED = path.resolve(repoRoot, '..', 'shared', 'datasets');

/** The independent oracle for palette masks: libvips decodes the palette to colours; the VOC colormap inverts them. */
async function indicesViaSharpColours(file: string): Promise<Uint8Array> {
  const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const cmap = vocColormap();
  const inv = new Map<number, number>();
  for (let i = 255; i >= 0; i--) inv.set((cmap[i * 3] << 16) | (cmap[i * 3 + 1] << 8) | cmap[i * 3 + 2], i);
  const out = new Uint8Array(info.width * info.height);
  for (let p = 0; p < out.length; p++) {
    const v = inv.get((data[p * info.channels] << 16) | (data[p * info.channels + 1] << 8) | data[p * info.channels + 2]);
    if (v === undefined) throw new Error(`colour outside the VOC colormap in ${file}`);
    out[p] = v;
  }
  return out;
}

describe('scanVocSegmentation (generated tree)', () => {
  let root: string;
  before(async () => {
    root = await makeTempDir('vocseg');
    for (const d of ['JPEGImages', 'SegmentationClass', 'SegmentationClassAug', 'ImageSets/Segmentation', 'val', 'valannot']) {
      await fs.mkdir(path.join(root, d), { recursive: true });
    }
    await writeSolidJpeg(path.join(root, 'JPEGImages', 'a.jpg'), 2, 3, [0, 0, 0]);
    await writeSolidJpeg(path.join(root, 'JPEGImages', 'b.jpg'), 2, 3, [0, 0, 0]);
    const palette = vocColormap();
    const pal = Array.from({ length: 256 }, (_, i) => [palette[i * 3], palette[i * 3 + 1], palette[i * 3 + 2]] as [number, number, number]);
    await fs.writeFile(path.join(root, 'SegmentationClass', 'a.png'),
      encodePng({ width: 3, height: 2, colorType: 3, bitDepth: 8, samples: [0, 15, 15, 255, 0, 20], palette: pal }));
    await fs.writeFile(path.join(root, 'SegmentationClass', 'b.png'),
      encodePng({ width: 4, height: 2, colorType: 3, bitDepth: 8, samples: new Array(8).fill(0), palette: pal }));
    await fs.writeFile(path.join(root, 'SegmentationClassAug', 'a.png'),
      encodePng({ width: 3, height: 2, colorType: 0, bitDepth: 8, samples: [1, 2, 3, 4, 5, 255] }));
    await fs.writeFile(path.join(root, 'ImageSets', 'Segmentation', 'train.txt'), 'a\n');
    await fs.writeFile(path.join(root, 'ImageSets', 'Segmentation', 'bad.txt'), 'b\n');
    await fs.writeFile(path.join(root, 'ImageSets', 'Segmentation', 'missing.txt'), 'a\nc\n');
    // CamVid-style pairs with absolute paths from another machine.
    await fs.writeFile(path.join(root, 'val', 'x.png'), encodePng({ width: 2, height: 1, colorType: 2, bitDepth: 8, samples: [1, 2, 3, 4, 5, 6] }));
    await fs.writeFile(path.join(root, 'valannot', 'x.png'), encodePng({ width: 2, height: 1, colorType: 0, bitDepth: 8, samples: [11, 3] }));
    await fs.writeFile(path.join(root, 'val.txt'), '/SegNet/CamVid/val/x.png /SegNet/CamVid/valannot/x.png\n');
  });
  after(() => removeDir(root));

  it('palette masks → indices with 255 kept; SegmentationClassAug (grayscale) as an option', async () => {
    const set = await scanVocSegmentation(root, { split: 'train' });
    expect(set.classes.length).to.equal(21);
    const s = await loadSegmentationSample(set.records[0]);
    expect(Array.from(s.target.mask)).to.deep.equal([0, 15, 15, 255, 0, 20]);
    const aug = await scanVocSegmentation(root, { split: 'train', masksDir: 'SegmentationClassAug' });
    expect(Array.from((await loadSegmentationSample(aug.records[0])).target.mask)).to.deep.equal([1, 2, 3, 4, 5, 255]);
  });

  it('a mask whose size differs from its image is an error naming both files', async () => {
    const set = await scanVocSegmentation(root, { split: 'bad' });
    await loadSegmentationSample(set.records[0]).then(
      () => expect.fail('should throw'),
      (e: Error) => expect(e.message).to.match(/mask '.*b\.png' is 2x4 \(HxW\) but its image '.*b\.jpg' \(id 'b'\) is 2x3/));
  });

  it('missing mask → error naming the file, id and list line', async () => {
    await scanVocSegmentation(root, { split: 'missing' }).then(
      () => expect.fail('should throw'),
      (e: Error) => expect(e.message).to.match(/c\.jpg \(id c, line 2 of .*missing\.txt\): image does not exist/));
  });

  it('pair list with absolute paths is re-rooted; CamVid void 11 → 255', async () => {
    expect(rerootPath(root, '/SegNet/CamVid/val/x.png')).to.equal(path.join(root, 'val', 'x.png'));
    expect(rerootPath(root, '/SegNet/CamVid/val/none.png')).to.equal(undefined);
    const set = await scanVocSegmentation(root, { splitFile: 'val.txt', mask: { ignoreIndex: 11 }, classes: Array.from({ length: 11 }, String) });
    expect(set.records[0].imageId).to.equal('x');
    const s = await loadSegmentationSample(set.records[0]);
    expect(Array.from(s.target.mask)).to.deep.equal([255, 3]);
    expect(Array.from(s.image.data)).to.deep.equal([1, 2, 3, 4, 5, 6]);
  });
});

describe(`scanVocSegmentation (shared datasets)${sharedSkipNote()}`, function () {
  before(async function () {
    if (!(await fs.stat(SHARED).catch(() => null))) this.skip(); // ../shared absent: nothing to read
  });

  it('coco-tiny-vocseg: 40 train / 37 val; palette indices equal libvips colours mapped back through the VOC colormap', async () => {
    const train = await scanVocSegmentation(path.join(SHARED, 'coco-tiny-vocseg'), { split: 'train' });
    const val = await scanVocSegmentation(path.join(SHARED, 'coco-tiny-vocseg'), { split: 'val' });
    expect([train.records.length, val.records.length]).to.deep.equal([40, 37]);
    for (const r of val.records.slice(0, 3)) {
      const s = await loadSegmentationSample(r);
      expect(Array.from(s.target.mask)).to.deep.equal(Array.from(await indicesViaSharpColours(r.maskFile)));
      expect(s.target.mask.includes(255)).to.equal(true); // 3 px void borders
    }
  });

  it('labelme-voc2011: palette masks with 255 regions, no ImageSets (every mask listed)', async () => {
    const set = await scanVocSegmentation(path.join(SHARED, 'labelme-voc2011', 'examples', 'semantic_segmentation', 'data_dataset_voc'));
    expect(set.records.map((r) => r.imageId)).to.deep.equal(['2011_000003', '2011_000006', '2011_000025']);
    const s = await loadSegmentationSample(set.records[0]);
    expect(Array.from(s.target.mask)).to.deep.equal(Array.from(await indicesViaSharpColours(set.records[0].maskFile)));
    expect([...new Set(s.target.mask)].sort((a, b) => a - b)).to.deep.equal([0, 5, 15, 255]);
  });

  it('camvid-segnet: 101 pairs re-rooted from /SegNet/CamVid; gray labels equal libvips gray, 11 → 255', async () => {
    const set = await scanVocSegmentation(path.join(SHARED, 'camvid-segnet', 'CamVid'), {
      splitFile: 'val.txt', mask: { ignoreIndex: 11 }, classes: Array.from({ length: 11 }, (_, i) => `c${i}`),
    });
    expect(set.records.length).to.equal(101);
    const r = set.records[0];
    expect(r.maskFile).to.equal(path.join(SHARED, 'camvid-segnet', 'CamVid', 'valannot', '0016E5_07959.png'));
    const s = await loadSegmentationSample(r);
    const { data } = await sharp(r.maskFile).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect(data.length).to.equal(360 * 480);
    const expected = Array.from(data, (v) => (v === 11 ? 255 : v));
    expect(Array.from(s.target.mask)).to.deep.equal(expected);
  });
});
