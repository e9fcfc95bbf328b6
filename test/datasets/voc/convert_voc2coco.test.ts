import { expect } from 'chai';
import { Command } from 'commander';
import { promises as fs } from 'fs';
import * as path from 'path';
import { CocoDetection } from '../../../datasets/coco/dataset';
import { convertVocToCoco, vocToCoco } from '../../../datasets/voc/convert_voc2coco';
import { registerConvert } from '../../../src/cli/convert';
import { makeTempDir, removeDir, writeSolidJpeg } from '../pipeline/make_images';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const FIXTURE = path.join(repoRoot, 'test', 'fixtures', 'bccd');
const ROOT = path.join(FIXTURE, 'BCCD');

/*
 * Hand derivation of test/fixtures/bccd/voc2coco_expected.json (classes Platelets, RBC, WBC → ids 1, 2, 3).
 * VOC [xmin, ymin, xmax, ymax] → bbox [xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1], area = w * h.
 * BloodImage_00147 (image 1): Platelets [200, 249, 238, 294] → [199, 248, 39, 46], 1794;
 *                             WBC [339, 42, 514, 207] → [338, 41, 176, 166], 29216.
 * BloodImage_00249 (image 2): WBC [70, 329, 277, 480] → [69, 328, 208, 152], 31616;
 *                             WBC [164, 20, 362, 205] → [163, 19, 199, 186], 37014;
 *                             Platelets [278, 268, 311, 298] → [277, 267, 34, 31], 1054.
 */
describe('vocToCoco', () => {
  let tmp: string;
  before(async () => { tmp = await makeTempDir('voc2coco'); });
  after(() => removeDir(tmp));

  it('BCCD fixture, split trainval → the hand-derived COCO JSON', async () => {
    const expected = JSON.parse(await fs.readFile(path.join(FIXTURE, 'voc2coco_expected.json'), 'utf8'));
    const json = await vocToCoco(ROOT, { split: 'trainval', classes: ['Platelets', 'RBC', 'WBC'] });
    expect(json.images).to.deep.equal(expected.images);
    expect(json.annotations).to.deep.equal(expected.annotations);
    expect(json.categories).to.deep.equal(expected.categories);
  });

  it('CLI writes the file (temp + rename) and the COCO adapter reads it back to the VOC boxes', async () => {
    const out = path.join(tmp, 'bccd.json');
    const program = new Command().exitOverride();
    registerConvert(program);
    const write = process.stdout.write;
    let printed = '';
    process.stdout.write = ((s: string) => { printed += s; return true; }) as typeof process.stdout.write;
    try {
      await program.parseAsync(['node', 'resvision', 'convert', 'voc2coco', ROOT, '--split', 'trainval', '--out', out,
        '--classes', 'Platelets,RBC,WBC'], { from: 'node' });
    } finally {
      process.stdout.write = write;
    }
    expect(printed).to.match(/2 images, 5 annotations, 3 categories/);
    expect((await fs.readdir(tmp)).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
    const ds = CocoDetection.fromFile(out, path.join(ROOT, 'JPEGImages'));
    expect(ds.classes).to.deep.equal(['Platelets', 'RBC', 'WBC']);
    expect(ds.records.map((r) => path.basename(r.file))).to.deep.equal(['BloodImage_00147.jpg', 'BloodImage_00249.jpg']);
    // xyxy = [xmin - 1, ymin - 1, xmax, ymax], the VOC adapter's boxes.
    expect(Array.from(ds.records[1].target.boxes)).to.deep.equal([69, 328, 277, 480, 163, 19, 362, 205, 277, 267, 311, 298]);
    expect(Array.from(ds.records[1].target.labels)).to.deep.equal([2, 2, 0]);
  });

  it("CLI without --classes takes the names found in the XMLs, sorted (check-data's default), and --help says so", async () => {
    const out = path.join(tmp, 'bccd_found.json');
    const program = new Command().exitOverride();
    registerConvert(program);
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      await program.parseAsync(['node', 'resvision', 'convert', 'voc2coco', ROOT, '--split', 'trainval', '--out', out], { from: 'node' });
    } finally {
      process.stdout.write = write;
    }
    // BCCD's classes are not VOC's: with the old default ('voc') this conversion failed on the first 'WBC'. The
    // trainval split holds no RBC, so the ids are Platelets 1, WBC 2 (not 3 as with the full class list); the boxes
    // are those of the hand-derived file.
    const expected = JSON.parse(await fs.readFile(path.join(FIXTURE, 'voc2coco_expected.json'), 'utf8'));
    const written = JSON.parse(await fs.readFile(out, 'utf8'));
    expect(written.categories).to.deep.equal([
      { id: 1, name: 'Platelets', supercategory: 'none' },
      { id: 2, name: 'WBC', supercategory: 'none' },
    ]);
    expect(written.annotations.map((a: { category_id: number }) => a.category_id)).to.deep.equal([1, 2, 2, 2, 1]);
    expect(written.annotations.map((a: { bbox: number[] }) => a.bbox)).to.deep.equal(expected.annotations.map((a: { bbox: number[] }) => a.bbox));
    const voc2coco = program.commands.find((c) => c.name() === 'convert')!.commands.find((c) => c.name() === 'voc2coco')!;
    expect(voc2coco.helpInformation().replace(/\s+/g, ' ')).to.contain(
      "--classes <list> category ids 1..K: 'found' (names in the XMLs, sorted), 'voc' (the 20 classes) or a comma-separated list (default: \"found\")",
    );
  });

  it('a truncated XML fails the conversion, naming the file, line and column; nothing is written', async () => {
    const root = path.join(tmp, 'cut');
    for (const d of ['Annotations', 'JPEGImages']) await fs.mkdir(path.join(root, d), { recursive: true });
    await writeSolidJpeg(path.join(root, 'JPEGImages', 'x.jpg'), 48, 64, [0, 0, 0]);
    const o = (i: number) => `<object><name>cat</name><bndbox><xmin>${i + 1}</xmin><ymin>1</ymin><xmax>${i + 5}</xmax><ymax>9</ymax></bndbox></object>\n`;
    const full = `<annotation><size><width>64</width><height>48</height></size>\n${Array.from({ length: 20 }, (_, i) => o(i)).join('')}</annotation>`;
    const xmlFile = path.join(root, 'Annotations', 'x.xml');
    await fs.writeFile(xmlFile, full.slice(0, full.indexOf('<object>', full.indexOf('<xmin>2</xmin>'))));
    const out = path.join(tmp, 'cut.json');
    await convertVocToCoco(root, out, { classes: 'found' }).then(
      () => expect.fail('should throw'),
      (e: Error) => expect(e.message).to.equal(`error [unreadable-file] ${xmlFile} (id x): VOC XML '${xmlFile}': not well-formed ` +
        'XML at line 1, column 1: tags never closed: <annotation> (the file ends early?)'));
    expect(await fs.stat(out).catch(() => null)).to.equal(null);
  });

  it('zero-extent box: area 1 when kept (1 px), absent when dropped', async () => {
    const kept = await vocToCoco(ROOT, { split: 'degenerate', classes: 'found' });
    expect(kept.annotations[12]).to.deep.include({ bbox: [503, 336, 1, 1], area: 1 });
    const dropped = await vocToCoco(ROOT, { split: 'degenerate', classes: 'found', degenerateBoxes: 'drop' });
    expect(dropped.annotations.length).to.equal(13);
    expect(dropped.annotations.map((a) => a.id)).to.deep.equal(Array.from({ length: 13 }, (_, i) => i + 1));
  });
});
