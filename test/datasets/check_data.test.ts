import { expect } from 'chai';
import { promises as fs } from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { checkData, detectCheckFormat } from '../../datasets/check_data';
import { runCheckData } from '../../src/cli/check_data';
import { makeTempDir, removeDir, writeSolidJpeg } from './pipeline/make_images';
import { encodePng } from './pipeline/png_writer';
import { sharedSkipNote } from '../helpers/shared';

const repoRoot = path.resolve(__dirname, '..', '..');
const SHARED = path.resolve(repoRoot, '..', 'shared', 'datasets');
const BCCD_FIXTURE = path.join(repoRoot, 'test', 'fixtures', 'bccd', 'BCCD');

describe('checkData', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('checkdata');
    await writeSolidJpeg(path.join(dir, 'a.jpg'), 4, 5, [0, 0, 0]);
    await writeSolidJpeg(path.join(dir, 'b.jpg'), 6, 5, [0, 0, 0]); // JSON says 4 high
    const coco = {
      images: [
        { id: 1, file_name: 'a.jpg', width: 5, height: 4 },
        { id: 2, file_name: 'b.jpg', width: 5, height: 4 },
        { id: 3, file_name: 'gone.jpg', width: 5, height: 4 },
        { id: 3, file_name: 'a.jpg', width: 5, height: 4 },
      ],
      categories: [{ id: 1, name: 'cat' }, { id: 4, name: 'dog' }],
      annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 2, 2], iscrowd: 0 },
        { id: 2, image_id: 1, category_id: 7, bbox: [0, 0, 2, 2], iscrowd: 0 },
        { id: 3, image_id: 1, category_id: 4, bbox: [4, 3, 3, 3], iscrowd: 0 },
        { id: 4, image_id: 2, category_id: 4, bbox: [1, 1, 0, 2], iscrowd: 0 },
        { id: 5, image_id: 2, category_id: 4, bbox: [0, 0, 5, 4], iscrowd: 1, segmentation: { size: [3, 5], counts: [15] } },
      ],
    };
    await fs.writeFile(path.join(dir, 'instances.json'), JSON.stringify(coco));
  });
  after(() => removeDir(dir));

  it('COCO: every problem named with file and record; summary counts', async () => {
    const r = await checkData(path.join(dir, 'instances.json'), { format: 'coco' });
    const lines = r.issues.map((i) => `${i.code} ${path.basename(i.file)} ${i.record}`).sort();
    expect(lines).to.deep.equal([
      'box-outside-image instances.json annotation id 3 (image id 1)',
      'degenerate-box instances.json annotation id 4 (image id 2)',
      'duplicate-id instances.json image id 3',
      'missing-file gone.jpg image id 3',
      'size-mismatch b.jpg image id 2',
      'size-mismatch instances.json annotation id 5 (image id 2)',
      'unknown-class instances.json annotation id 2 (image id 1)',
    ]);
    expect(r.errors).to.equal(7);
    // Kept: ann 1 (cat), ann 3 (dog, clipped to [4, 3, 5, 4]), ann 5 (dog, crowd): 1 cat, 2 dogs.
    expect(r.summary.perClass).to.deep.equal({ cat: 1, dog: 2 });
    expect(r.summary.instances).to.equal(3);
    // Images 2 and both records with id 3 have no non-crowd annotation.
    expect(r.summary.emptyImages).to.equal(3);
    expect(r.summary.imageSizes).to.deep.equal([{ size: '5x4', count: 4 }]);
    // Areas: 2*2 = 4, 1*1 = 1, 5*4 = 20 → all small (< 32²).
    expect(r.summary.instanceSizes).to.deep.equal({ small: 3, medium: 0, large: 0 });
  });

  it('COCO: annotation id 0 and repeated ids are errors; EXIF tags counted, stored-size annotation accepted', async () => {
    const sub = path.join(dir, 'ids');
    await fs.mkdir(sub, { recursive: true });
    // 'rot.jpg' is stored 6x4 (WxH) with orientation 6 (oriented 4x6); the JSON gives the stored size.
    await sharp({ create: { width: 6, height: 4, channels: 3, background: { r: 0, g: 0, b: 0 } } }).jpeg()
      .withMetadata({ orientation: 6 }).toFile(path.join(sub, 'rot.jpg'));
    await writeSolidJpeg(path.join(sub, 'a.jpg'), 4, 6, [0, 0, 0]);
    const box = (id: number, image_id: number) => ({ id, image_id, category_id: 1, bbox: [0, 0, 2, 2], area: 4, iscrowd: 0 });
    await fs.writeFile(path.join(sub, 'instances.json'), JSON.stringify({
      images: [{ id: 1, file_name: 'rot.jpg', width: 6, height: 4 }, { id: 2, file_name: 'a.jpg', width: 6, height: 4 }],
      categories: [{ id: 1, name: 'cat' }],
      annotations: [box(0, 1), box(5, 1), box(5, 2)],
    }));
    const r = await checkData(path.join(sub, 'instances.json'), { format: 'coco' });
    expect(r.issues.map((i) => `${i.severity} ${i.code} ${i.record}`)).to.deep.equal([
      'error bad-record annotation id 0',
      'error duplicate-id annotation id 5',
    ]);
    expect(r.issues[0].message).to.match(/pycocotools never counts a match to annotation id 0/);
    expect(r.summary.exifOrientation).to.deep.equal({ tagged: 1, swapsSides: 1, annotatedAsStored: 1 });
    const { text } = await runCheckData(path.join(sub, 'instances.json'), { format: 'coco', maxIssues: '50' });
    expect(text).to.include('EXIF orientation: 1 image(s) carry a tag that rotates or mirrors them, 1 swapping width and ' +
      'height; 1 of these are annotated at their stored size and are read as stored (not rotated), as PIL and torchvision read them');
  });

  it('VOC: a truncated XML is an error naming the file, line and column (not its first boxes silently)', async () => {
    const root = path.join(dir, 'voc-cut');
    for (const d of ['Annotations', 'JPEGImages']) await fs.mkdir(path.join(root, d), { recursive: true });
    await writeSolidJpeg(path.join(root, 'JPEGImages', 'x.jpg'), 48, 64, [0, 0, 0]);
    const o = (i: number) => `<object><name>cat</name><bndbox><xmin>${i + 1}</xmin><ymin>1</ymin><xmax>${i + 5}</xmax><ymax>9</ymax></bndbox></object>\n`;
    const full = `<annotation><size><width>64</width><height>48</height></size>\n${Array.from({ length: 20 }, (_, i) => o(i)).join('')}</annotation>`;
    await fs.writeFile(path.join(root, 'Annotations', 'x.xml'), full.slice(0, full.indexOf('<xmin>3</xmin>')));
    const r = await checkData(root, { format: 'voc' });
    expect(r.errors).to.equal(1);
    expect(r.summary.instances).to.equal(0);
    expect(r.issues[0].code).to.equal('unreadable-file');
    expect(r.issues[0].message).to.match(/x\.xml': not well-formed XML at line 1, column 1: tags never closed: <annotation>, <object>, <bndbox>/);
  });

  it('VOC segmentation: size mismatch and unknown class values', async () => {
    const root = path.join(dir, 'seg');
    for (const d of ['JPEGImages', 'SegmentationClass']) await fs.mkdir(path.join(root, d), { recursive: true });
    await writeSolidJpeg(path.join(root, 'JPEGImages', 'x.jpg'), 2, 2, [0, 0, 0]);
    await writeSolidJpeg(path.join(root, 'JPEGImages', 'y.jpg'), 2, 2, [0, 0, 0]);
    await fs.writeFile(path.join(root, 'SegmentationClass', 'x.png'), encodePng({ width: 3, height: 2, colorType: 0, bitDepth: 8, samples: [0, 1, 1, 0, 0, 255] }));
    await fs.writeFile(path.join(root, 'SegmentationClass', 'y.png'), encodePng({ width: 2, height: 2, colorType: 0, bitDepth: 8, samples: [0, 30, 0, 0] }));
    const r = await checkData(root, { format: 'voc-seg' });
    expect(r.issues.map((i) => `${i.code} ${path.basename(i.file)} ${i.record}`)).to.have.members([
      'size-mismatch x.png id x', 'unreadable-file y.png id y']);
    expect(r.issues.find((i) => i.file.endsWith('y.png'))!.message).to.match(/class 30 at pixel \(x=1, y=0\)/);
    expect(r.summary.perClass.aeroplane).to.equal(1);
  });

  it('CLI on the BCCD fixture: the zero-extent box is an error → exit code 1; printout names file and object', async () => {
    const { text, exitCode } = await runCheckData(BCCD_FIXTURE, { format: 'voc', split: 'degenerate', maxIssues: '50' });
    expect(exitCode).to.equal(1);
    expect(text).to.match(/error \[degenerate-box\] .*BloodImage_00338\.xml \(object 12 \('RBC'\)\)/);
    expect(text).to.match(/RBC\s+13\n\s+WBC\s+1\n/); // 13 RBC objects (0..12), object 13 the WBC
    const clean = await runCheckData(BCCD_FIXTURE, { format: 'voc', split: 'trainval', maxIssues: '50' });
    expect(clean.exitCode).to.equal(0);
    expect(clean.text).to.match(/images: 2 \(0 without annotations\)\ninstances: 5/);
    // As VOC segmentation the detection-only fixture has no mask folder: one line naming it and the option to give.
    const noMasks = await runCheckData(BCCD_FIXTURE, { format: 'voc-seg', maxIssues: '50' }).then(() => '', (e: Error) => e.message);
    expect(noMasks).to.match(/cannot list '.*SegmentationClass' \(no split given, so every '\.png' file there is used\): it does not exist; for another mask folder pass --masks-dir/);
    // Without --format the fixture's Annotations/ makes it VOC detection: the same report.
    const detected = await runCheckData(BCCD_FIXTURE, { split: 'trainval', maxIssues: '50' });
    expect(detected).to.deep.equal(clean);
  });

  describe(`shared datasets${sharedSkipNote()}`, function () {
    before(async function () {
      if (!(await fs.stat(SHARED).catch(() => null))) this.skip(); // ../shared absent: nothing to read
    });

    it('bccd-voc: 1 error (BloodImage_00338), 2083 instances: 1773 RBC, 158 WBC, 152 Platelets', async () => {
      const r = await checkData(path.join(SHARED, 'bccd-voc', 'BCCD'), { format: 'voc' });
      expect(r.errors).to.equal(1);
      expect(r.summary.perClass).to.deep.equal({ Platelets: 152, RBC: 1773, WBC: 158 });
      expect(r.summary.imageSizes).to.deep.equal([{ size: '640x480', count: 159 }]);
    });

    it('coco-tiny val: clean; 2 images without annotations', async () => {
      const base = path.join(SHARED, 'coco-tiny', 'tiny_coco');
      const r = await checkData(path.join(base, 'annotations', 'instances_val2017.json'), { format: 'coco', imagesDir: path.join(base, 'val2017') });
      expect(r.errors).to.equal(0);
      expect(r.summary.emptyImages).to.equal(2);
      expect(r.summary.instances).to.equal(382);
    });
  });
});

describe('detectCheckFormat (check-data without --format)', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('checkformat');
    for (const d of ['voc/Annotations', 'voc2012/Annotations', 'voc2012/SegmentationClass', 'seg/SegmentationClass', 'coco/annotations', 'empty']) {
      await fs.mkdir(path.join(dir, d), { recursive: true });
    }
    await fs.writeFile(path.join(dir, 'coco/annotations/instances_val2017.json'), '{}');
    await fs.writeFile(path.join(dir, 'coco/annotations/instances_train2017.json'), '{}');
    await fs.writeFile(path.join(dir, 'notes.txt'), '');
  });
  after(() => removeDir(dir));

  it('a .json file is COCO; Annotations/ is VOC detection (VOC 2012 too, saying how to check masks); SegmentationClass/ alone is VOC segmentation', () => {
    const json = path.join(dir, 'coco/annotations/instances_val2017.json');
    expect(detectCheckFormat(json)).to.deep.equal({ format: 'coco', reason: `${json} is a JSON file: COCO instances` });
    expect(detectCheckFormat(path.join(dir, 'voc')).format).to.equal('voc');
    const both = detectCheckFormat(path.join(dir, 'voc2012'));
    expect(both.format).to.equal('voc');
    expect(both.reason).to.contain('--format voc-seg checks the masks');
    expect(detectCheckFormat(path.join(dir, 'seg')).format).to.equal('voc-seg');
  });

  it('a COCO root, a folder of neither kind, another file or a missing path: one error naming it and what to pass', () => {
    expect(() => detectCheckFormat(path.join(dir, 'coco'))).to.throw(
      `check-data: ${path.join(dir, 'coco')} is a COCO root; pass one instances file, e.g. ${path.join(dir, 'coco/annotations/instances_train2017.json')} ` +
        '(found instances_train2017.json, instances_val2017.json)',
    );
    expect(() => detectCheckFormat(path.join(dir, 'empty'))).to.throw(/cannot tell the format of .*empty .*pass --format coco, voc or voc-seg/);
    expect(() => detectCheckFormat(path.join(dir, 'notes.txt'))).to.throw(/notes\.txt is a file but not a COCO instances \.json; pass --format/);
    expect(() => detectCheckFormat(path.join(dir, 'nowhere'))).to.throw(/nowhere does not exist/);
  });
});
