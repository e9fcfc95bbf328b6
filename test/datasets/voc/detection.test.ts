import { expect } from 'chai';
import { promises as fs } from 'fs';
import * as path from 'path';
import { decodeImage } from '../../../datasets/pipeline/decode';
import { loadDetectionSample } from '../../../datasets/pipeline/detection_presets';
import { scanVocDetection, vocGroundTruth } from '../../../datasets/voc/detection';
import { isDegenerateVocBox, parseVocXml, vocBoxFromXyxy, vocBoxToXyxy } from '../../../datasets/voc/xml';
import { makeTempDir, removeDir, writeSolidJpeg } from '../pipeline/make_images';
import { sharedSkipNote } from '../../helpers/shared';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const SHARED = path.resolve(repoRoot, '..', 'shared', 'datasets');
const BCCD_FIXTURE = path.join(repoRoot, 'test', 'fixtures', 'bccd', 'BCCD');

/** A VOC XML with a difficult object, float coordinates, empty tags, optional size. */
function xml(objects: string, size = '<size><width>64</width><height>48</height><depth>3</depth></size>'): string {
  return `<annotation verified="yes"><folder>JPEGImages</folder><filename>x.jpg</filename>
  <path>/home/someone/x.jpg</path>${size}<segmented/>${objects}</annotation>`;
}
const obj = (name: string, b: string, extra = ''): string =>
  `<object><name>${name}</name><pose/>${extra}<bndbox>${b}</bndbox></object>`;

describe('parseVocXml', () => {
  it('difficult, truncated, empty tags, float coordinates, person parts ignored', () => {
    const a = parseVocXml(xml(
      obj('dog', '<xmin>1</xmin><ymin>1</ymin><xmax>64</xmax><ymax>48</ymax>', '<truncated>1</truncated><difficult>1</difficult>') +
      obj('person', '<xmin>10.5</xmin><ymin>2.25</ymin><xmax>20.75</xmax><ymax>30</ymax>',
        '<truncated/><difficult/><part><name>head</name><bndbox><xmin>11</xmin><ymin>3</ymin><xmax>12</xmax><ymax>4</ymax></bndbox></part>'),
    ), 'a.xml');
    expect(a.width).to.equal(64);
    expect(a.height).to.equal(48);
    expect(a.filename).to.equal('x.jpg');
    expect(a.objects).to.deep.equal([
      { name: 'dog', bndbox: [1, 1, 64, 48], difficult: true, truncated: true },
      { name: 'person', bndbox: [10.5, 2.25, 20.75, 30], difficult: false, truncated: false },
    ]);
  });

  it('missing size → undefined; single object still a list; no object → empty list', () => {
    const a = parseVocXml(xml(obj('cat', '<xmin>2</xmin><ymin>3</ymin><xmax>4</xmax><ymax>5</ymax>'), ''), 'b.xml');
    expect(a.width).to.equal(undefined);
    expect(a.height).to.equal(undefined);
    expect(a.objects.length).to.equal(1);
    expect(parseVocXml(xml('', '<size><width>0</width><height>0</height></size>'), 'c.xml')).to.deep.include({ objects: [], width: undefined });
  });

  it('errors name the file and the object', () => {
    expect(() => parseVocXml(xml(obj('cat', '<xmin>2</xmin><ymin>3</ymin><xmax>x</xmax><ymax>5</ymax>')), 'e.xml'))
      .to.throw(/e\.xml': object 0 \('cat'\): <xmax> is 'x'/);
    expect(() => parseVocXml(xml('<object><name>cat</name></object>'), 'f.xml')).to.throw(/f\.xml': object 0 \('cat'\) has no <bndbox>/);
    expect(() => parseVocXml('<foo/>', 'g.xml')).to.throw(/g\.xml': no <annotation>/);
  });

  it('a file cut in the middle (2 of 20 boxes complete) is an error with the parser\'s line and column, not 2 boxes', () => {
    const full = twentyBoxes();
    // Cut inside object 1's closing </ymin> (line 4: two spaces, then 59 characters up to '</ymi').
    const cut = full.slice(0, full.indexOf('<ymin>', full.indexOf('<xmin>2</xmin>')) + 12);
    expect(cut.endsWith('<xmin>2</xmin><ymin>1</ymi')).to.equal(true);
    expect(() => parseVocXml(cut, 'cut.xml')).to.throw(
      "VOC XML 'cut.xml': not well-formed XML at line 4, column 61: Closing tag 'ymi' doesn't have proper closing.");
    // Cut between tags: the validator names the elements left open.
    expect(() => parseVocXml(full.slice(0, full.indexOf('<xmin>3</xmin>')), 'cut2.xml')).to.throw(
      "VOC XML 'cut2.xml': not well-formed XML at line 1, column 1: tags never closed: <annotation>, <object>, <bndbox> (the file ends early?)");
    expect(() => parseVocXml(full.replace('</xmax>', '</xm>'), 'tag.xml')).to.throw(
      "VOC XML 'tag.xml': not well-formed XML at line 3, column 70: Expected closing tag 'xmax' (opened in line 3, col 63) " +
        "instead of closing tag 'xm'.");
    expect(parseVocXml(full, 'full.xml').objects).to.have.length(20);
  });
});

/** A VOC XML with 20 cats, one object a line (line 3 is object 0). */
function twentyBoxes(): string {
  const o = (i: number) => `  <object><name>cat</name><bndbox><xmin>${i + 1}</xmin><ymin>1</ymin><xmax>${i + 5}</xmax><ymax>9</ymax></bndbox></object>\n`;
  return `<annotation>\n  <filename>x.jpg</filename><size><width>64</width><height>48</height></size>\n${Array.from({ length: 20 }, (_, i) => o(i)).join('')}</annotation>\n`;
}

describe('vocBoxToXyxy / vocBoxFromXyxy', () => {
  it('detectron2 convention: [xmin-1, ymin-1, xmax, ymax]; a full-image VOC box is [0, 0, W, H]', () => {
    expect(vocBoxToXyxy([1, 1, 64, 48])).to.deep.equal([0, 0, 64, 48]);
    expect(vocBoxToXyxy([504, 337, 504, 337])).to.deep.equal([503, 336, 504, 337]); // 1 px, never 0
    expect(vocBoxFromXyxy([503, 336, 504, 337])).to.deep.equal([504, 337, 504, 337]);
    expect(isDegenerateVocBox([504, 337, 504, 337])).to.equal(true);
    expect(isDegenerateVocBox([1, 1, 2, 2])).to.equal(false);
  });
});

describe('scanVocDetection (generated tree)', () => {
  let root: string;
  before(async () => {
    root = await makeTempDir('vocdet');
    for (const d of ['Annotations', 'JPEGImages', 'ImageSets/Main']) await fs.mkdir(path.join(root, d), { recursive: true });
    await writeSolidJpeg(path.join(root, 'JPEGImages', 'a.jpg'), 48, 64, [10, 20, 30]);
    await writeSolidJpeg(path.join(root, 'JPEGImages', 'b.jpg'), 30, 40, [10, 20, 30]);
    await fs.writeFile(path.join(root, 'Annotations', 'a.xml'), xml(
      obj('dog', '<xmin>1</xmin><ymin>1</ymin><xmax>64</xmax><ymax>48</ymax>', '<difficult>1</difficult>') +
      obj('cat', '<xmin>10.5</xmin><ymin>2.25</ymin><xmax>20.75</xmax><ymax>30</ymax>') +
      obj('cat', '<xmin>5</xmin><ymin>5</ymin><xmax>5</xmax><ymax>9</ymax>') + // zero width as written
      obj('dog', '<xmin>50</xmin><ymin>40</ymin><xmax>70</xmax><ymax>48</ymax>'), // beyond W = 64
    ));
    await fs.writeFile(path.join(root, 'Annotations', 'b.xml'), xml(obj('bird', '<xmin>2</xmin><ymin>3</ymin><xmax>11</xmax><ymax>13</ymax>'), ''));
    await fs.writeFile(path.join(root, 'ImageSets', 'Main', 'trainval.txt'), 'a\nb\n');
    await fs.writeFile(path.join(root, 'ImageSets', 'Main', 'dup.txt'), 'a\nb\na\n');
  });
  after(() => removeDir(root));

  it('boxes, labels, difficult, size from the image when <size> is missing', async () => {
    const set = await scanVocDetection(root, { split: 'trainval' });
    expect(set.classes.length).to.equal(20);
    const [a, b] = set.records;
    // VOC: bird 2, cat 7, dog 11. Boxes: [xmin-1, ymin-1, xmax, ymax]; the 5..5 box kept 1 px wide; the last clipped.
    expect(Array.from(a.target.labels)).to.deep.equal([11, 7, 7, 11]);
    expect(Array.from(a.boxesFloat64)).to.deep.equal([0, 0, 64, 48, 9.5, 1.25, 20.75, 30, 4, 4, 5, 9, 49, 39, 64, 48]);
    expect(Array.from(a.target.difficult!)).to.deep.equal([1, 0, 0, 0]);
    expect(Array.from(a.target.boxes)).to.deep.equal(Array.from(Float32Array.from(a.boxesFloat64)));
    expect([b.width, b.height, b.sizeFromImage]).to.deep.equal([40, 30, true]);
    expect(Array.from(b.target.boxes)).to.deep.equal([1, 2, 11, 13]);
    expect(set.issues.map((i) => [i.code, i.severity, i.record])).to.deep.equal([
      ['degenerate-box', 'warning', "object 2 ('cat')"],
      ['box-outside-image', 'warning', "object 3 ('dog')"],
    ]);
    const gt = vocGroundTruth(set);
    expect(gt[0].objects[1]).to.deep.equal({ className: 'cat', boxXyxy: [10.5, 2.25, 20.75, 30], difficult: false });
  });

  it('options: dropDifficult, degenerateBoxes drop / error, classes found, unknown classes', async () => {
    const drop = await scanVocDetection(root, { split: 'trainval', dropDifficult: true, degenerateBoxes: 'drop' });
    expect(Array.from(drop.records[0].target.labels)).to.deep.equal([7, 11]);
    await scanVocDetection(root, { split: 'trainval', degenerateBoxes: 'error' }).then(
      () => expect.fail('should throw'),
      (e: Error) => expect(e.message).to.match(/a\.xml \(object 2 \('cat'\)\).*zero or negative extent/));
    const found = await scanVocDetection(root, { split: 'trainval', classes: 'found' });
    expect(found.classes).to.deep.equal(['bird', 'cat', 'dog']);
    await scanVocDetection(root, { split: 'trainval', classes: ['cat', 'dog'] }).then(
      () => expect.fail('should throw'),
      (e: Error) => expect(e.message).to.match(/b\.xml \(object 0 \('bird'\)\).*class 'bird' is not in the class list/));
    const skip = await scanVocDetection(root, { split: 'trainval', classes: ['cat', 'dog'], unknownClasses: 'skip' });
    expect(skip.records[1].target.labels.length).to.equal(0);
  });

  it('no split → every XML sorted; duplicate ids and missing images are errors naming the file', async () => {
    const all = await scanVocDetection(root, { classes: 'found' });
    expect(all.records.map((r) => r.imageId)).to.deep.equal(['a', 'b']);
    await scanVocDetection(root, { split: 'dup' }).then(
      () => expect.fail('should throw'),
      (e: Error) => expect(e.message).to.match(/dup\.txt \(line 3\): id 'a' is listed again \(first at line 1\)/));
    await fs.writeFile(path.join(root, 'ImageSets', 'Main', 'missing.txt'), 'a\nzz\n');
    await scanVocDetection(root, { split: 'missing' }).then(
      () => expect.fail('should throw'),
      (e: Error) => expect(e.message).to.match(/missing-file.*zz\.xml \(id zz\): annotation file does not exist/));
    const collected = await scanVocDetection(root, { split: 'missing', collectIssues: true });
    expect(collected.records.length).to.equal(1);
  });

  it('a truncated XML stops loading (naming the file, line, column); collected as an unreadable-file error', async () => {
    const full = twentyBoxes();
    await fs.writeFile(path.join(root, 'Annotations', 't.xml'), full.slice(0, full.indexOf('<xmin>3</xmin>')));
    await fs.copyFile(path.join(root, 'JPEGImages', 'a.jpg'), path.join(root, 'JPEGImages', 't.jpg'));
    await fs.writeFile(path.join(root, 'ImageSets', 'Main', 't.txt'), 'a\nt\n');
    const tFile = path.join(root, 'Annotations', 't.xml');
    await scanVocDetection(root, { split: 't' }).then(
      () => expect.fail('should throw'),
      (e: Error) => expect(e.message).to.equal(`error [unreadable-file] ${tFile} (id t): VOC XML '${tFile}': not well-formed XML ` +
        'at line 1, column 1: tags never closed: <annotation>, <object>, <bndbox> (the file ends early?)'));
    const collected = await scanVocDetection(root, { split: 't', collectIssues: true });
    expect(collected.records.map((r) => r.imageId)).to.deep.equal(['a']);
    expect(collected.issues.filter((i) => i.severity === 'error').map((i) => `${i.code} ${path.basename(i.file)}`)).to.deep.equal(['unreadable-file t.xml']);
  });

  it('a decoded size different from <size> is an error naming the file and id', async () => {
    await fs.writeFile(path.join(root, 'Annotations', 'c.xml'), xml('', '<size><width>41</width><height>30</height></size>'));
    await fs.copyFile(path.join(root, 'JPEGImages', 'b.jpg'), path.join(root, 'JPEGImages', 'c.jpg'));
    await fs.writeFile(path.join(root, 'ImageSets', 'Main', 'c.txt'), 'c\n');
    const set = await scanVocDetection(root, { split: 'c' });
    await loadDetectionSample(set.records[0]).then(
      () => expect.fail('should throw'),
      (e: Error) => expect(e.message).to.match(/c\.jpg' \(image id "c" in '.*c\.xml'\) is 30x40 \(HxW\) after decoding, but the annotation says 30x41/));
  });
});

describe('scanVocDetection (BCCD fixture)', () => {
  it('BloodImage_00338: the zero-extent box is reported and kept as [503, 336, 504, 337] or dropped', async () => {
    const set = await scanVocDetection(BCCD_FIXTURE, { split: 'degenerate', classes: 'found' });
    const r = set.records[0];
    expect(r.target.labels.length).to.equal(14);
    expect(Array.from(r.target.boxes.subarray(48, 52))).to.deep.equal([503, 336, 504, 337]);
    expect(set.issues.map((i) => [i.code, path.basename(i.file), i.record])).to.deep.equal([
      ['degenerate-box', 'BloodImage_00338.xml', "object 12 ('RBC')"]]);
    // WBC (object 13) touches the bottom border: VOC ymax 480 = H → 480, not clipped.
    expect(Array.from(r.target.boxes.subarray(52, 56))).to.deep.equal([243, 326, 509, 480]);
    expect(Array.from(r.truncated.subarray(12))).to.deep.equal([0, 1]);
    const dropped = await scanVocDetection(BCCD_FIXTURE, { split: 'degenerate', classes: 'found', degenerateBoxes: 'drop' });
    expect(dropped.records[0].target.labels.length).to.equal(13);
  });
});

describe(`scanVocDetection (shared datasets)${sharedSkipNote()}`, function () {
  before(async function () {
    if (!(await fs.stat(SHARED).catch(() => null))) this.skip(); // ../shared absent (a user's clone): nothing to read
  });

  it('bccd-voc: 159 XMLs, 2083 boxes, 3 classes; val split of 87 ids', async () => {
    const all = await scanVocDetection(path.join(SHARED, 'bccd-voc', 'BCCD'), { classes: 'found' });
    expect(all.classes).to.deep.equal(['Platelets', 'RBC', 'WBC']);
    expect(all.records.length).to.equal(159);
    expect(all.records.reduce((n, r) => n + r.target.labels.length, 0)).to.equal(2083);
    expect(all.records.reduce((n, r) => n + r.truncated.reduce((a, b) => a + b, 0), 0)).to.equal(499);
    for (const r of all.records) {
      for (let i = 0; i < r.target.boxes.length; i += 4) {
        expect(r.target.boxes[i + 2] - r.target.boxes[i]).to.be.greaterThan(0);
        expect(r.target.boxes[i + 3] - r.target.boxes[i + 1]).to.be.greaterThan(0);
      }
    }
    const val = await scanVocDetection(path.join(SHARED, 'bccd-voc', 'BCCD'), { classes: 'found', split: 'val' });
    expect(val.records.length).to.equal(87);
  });

  it('raccoon-voc: annotations/ + images/, no ImageSets; grayscale depth-1 JPEGs decode to RGB with R = G = B', async () => {
    const set = await scanVocDetection(path.join(SHARED, 'raccoon-voc'), { classes: 'found', annotationsDir: 'annotations', imagesDir: 'images' });
    expect(set.records.length).to.equal(120);
    expect(set.records.reduce((n, r) => n + r.target.labels.length, 0)).to.equal(130);
    const gray = set.records.filter((r) => r.depth === 1).map((r) => r.imageId).sort();
    expect(gray).to.deep.equal(['raccoon-150', 'raccoon-152', 'raccoon-161']);
    const rec = set.records.find((r) => r.imageId === 'raccoon-150')!;
    expect(Array.from(rec.target.boxes)).to.deep.equal([79, 61, 187, 169]); // XML 80 62 187 169
    const s = await loadDetectionSample(rec);
    expect([s.image.height, s.image.width]).to.deep.equal([183, 275]);
    for (let i = 0; i < s.image.data.length; i += 3 * 97) {
      expect(s.image.data[i]).to.equal(s.image.data[i + 1]);
      expect(s.image.data[i]).to.equal(s.image.data[i + 2]);
    }
  });

  it('labelme-voc2011: float coordinates and empty tags', async () => {
    const set = await scanVocDetection(path.join(SHARED, 'labelme-voc2011', 'examples', 'bbox_detection', 'data_dataset_voc'));
    const r = set.records.find((x) => x.imageId === '2011_000003')!;
    // XML: 191.0 107.36900369003689 313.0 329.36900369003695 → minus 1 on xmin, ymin.
    expect(Array.from(r.boxesFloat64.subarray(0, 4))).to.deep.equal([190, 107.36900369003689 - 1, 313, 329.36900369003695]);
    expect(Array.from(r.target.difficult!)).to.deep.equal([0, 0]);
    expect(set.issues).to.deep.equal([]);
    const { image } = await decodeImage(r.file);
    expect([image.height, image.width]).to.deep.equal([r.height, r.width]);
  });
});
