/**
 * Pascal VOC annotation XML (`Annotations/<id>.xml`): parsing with fast-xml-parser into a typed record, and the
 * conversion of VOC box coordinates to the project's continuous xyxy pixels.
 *
 * Coordinate convention. VOC `bndbox` values are 1-based pixel indices, inclusive: `xmin=1, xmax=W` covers a whole
 * image of width W. We follow detectron2 (`data/datasets/pascal_voc.py`, `load_voc_instances`): subtract 1 from
 * xmin and ymin only, so the box is `[xmin - 1, ymin - 1, xmax, ymax]` in continuous coordinates where `[0, 0, W, H]`
 * is the whole image (the convention of `datasets/types.ts`). A box with `xmin == xmax` (one pixel column in VOC's
 * inclusive reading) becomes 1 px wide, never 0. Others differ: mmdet 3.x `XMLDataset` subtracts 1 from all four
 * values (and truncates to int), keeping the inclusive "+1" width of the VOC devkit; torchvision's `VOCDetection`
 * returns the XML strings untouched. `vocBoxFromXyxy` inverts ours for the VOC evaluator (`voc_ap.ts`, inclusive).
 *
 * Real files differ from the devkit's: float coordinates (labelme exports `107.369...`), empty tags (`<difficult/>`,
 * `<truncated/>` → 0), a missing `<size>` or a zero size (the adapter then reads the image header), attributes on
 * `<annotation>`, absolute `<path>`s from the annotator's machine (ignored), `<part>` boxes of person layout
 * (ignored: only the object's own `bndbox` is read).
 *
 * Reference: VOC devkit `VOCreadxml.m` / `PASreadrecord.m`; detectron2 `data/datasets/pascal_voc.py`; py-faster-rcnn
 * `voc_eval.py` `parse_rec`.
 */
import { promises as fs } from 'fs';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { VOC_CLASSES } from './classes';

export { VOC_CLASSES };


/** One `<object>` of a VOC XML, with the XML's own values. */
export interface VocXmlObject {
  /** `<name>`, trimmed. */
  name: string;
  /** `[xmin, ymin, xmax, ymax]` as written: 1-based inclusive pixel indices (may be fractional). */
  bndbox: [number, number, number, number];
  /** `<difficult>` is 1 (missing or empty → false). */
  difficult: boolean;
  /** `<truncated>` is 1 (missing or empty → false). */
  truncated: boolean;
}

/** A parsed VOC annotation file. */
export interface VocXmlAnnotation {
  /** Path of the XML file. */
  xmlFile: string;
  /** `<filename>`, or undefined when missing/empty. */
  filename?: string;
  /** `<size><width>`, pixels; undefined when missing, empty or 0. */
  width?: number;
  /** `<size><height>`, pixels; undefined when missing, empty or 0. */
  height?: number;
  /** `<size><depth>` (channels; 1 for grayscale JPEGs), undefined when missing. */
  depth?: number;
  /** Objects in file order. */
  objects: VocXmlObject[];
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false, // keep text: numbers are parsed here with checks
  trimValues: true,
  isArray: (name, jpath) => jpath === 'annotation.object',
});

function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'object' && '#text' in (v as Record<string, unknown>)) return text((v as Record<string, unknown>)['#text']);
  return undefined; // an element with children only, or an empty element parsed as ''
}

function optionalSize(v: unknown, file: string, what: string): number | undefined {
  const s = text(v);
  if (s === undefined || s === '') return undefined;
  const n = Number(s);
  if (!Number.isFinite(n) || n < 0) throw new Error(`VOC XML '${file}': <size><${what}> is '${s}', expected a number >= 0`);
  return n === 0 ? undefined : Math.round(n);
}

function flag(v: unknown): boolean {
  const s = text(v);
  if (s === undefined || s === '') return false;
  return Number(s) === 1;
}

/**
 * Parse the text of a VOC annotation XML.
 * @param xml - file contents.
 * @param xmlFile - path, for error messages.
 * @returns the annotation with the XML's own values (no coordinate conversion).
 * @throws naming the file and the object index: not well-formed XML (with the validator's line and column; a file
 * cut short is one), not a VOC `<annotation>`, an object without `<name>` or `<bndbox>`, a coordinate that is
 * missing or not a finite number.
 */
export function parseVocXml(xml: string, xmlFile: string): VocXmlAnnotation {
  // XMLParser is lenient: a file cut short parses into the objects before the cut, silently. Validate first.
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    const open = /^Invalid '\[([\s\S]*)\]' found\.$/.exec(msg) ?? /^Unclosed tag '([^']*)'\.$/.exec(msg);
    const what = open
      ? `tags never closed: ${open[1].split(',').map((t) => `<${t.trim().replace(/^"|"$/g, '')}>`).join(', ')} (the file ends early?)`
      : msg.replace(/\s+/g, ' ');
    throw new Error(`VOC XML '${xmlFile}': not well-formed XML at line ${line}, column ${col}: ${what}`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(xml) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`VOC XML '${xmlFile}': cannot parse (${e instanceof Error ? e.message : String(e)})`);
  }
  const ann = doc.annotation;
  if (ann === undefined || typeof ann !== 'object' || ann === null) {
    throw new Error(`VOC XML '${xmlFile}': no <annotation> root element`);
  }
  const a = ann as Record<string, unknown>;
  const size = (typeof a.size === 'object' && a.size !== null ? a.size : {}) as Record<string, unknown>;
  const objs = (Array.isArray(a.object) ? a.object : []) as unknown[];
  const objects = objs.map((o, k): VocXmlObject => {
    const where = `VOC XML '${xmlFile}': object ${k}`;
    const obj = (typeof o === 'object' && o !== null ? o : {}) as Record<string, unknown>;
    const name = text(obj.name);
    if (!name) throw new Error(`${where} has no <name>`);
    const bb = obj.bndbox;
    if (typeof bb !== 'object' || bb === null) throw new Error(`${where} ('${name}') has no <bndbox>`);
    const coords = (['xmin', 'ymin', 'xmax', 'ymax'] as const).map((key) => {
      const s = text((bb as Record<string, unknown>)[key]);
      const v = s === undefined || s === '' ? NaN : Number(s);
      if (!Number.isFinite(v)) throw new Error(`${where} ('${name}'): <${key}> is '${s ?? ''}', expected a number`);
      return v;
    }) as [number, number, number, number];
    return { name, bndbox: coords, difficult: flag(obj.difficult), truncated: flag(obj.truncated) };
  });
  const filename = text(a.filename);
  return {
    xmlFile,
    filename: filename ? filename : undefined,
    width: optionalSize(size.width, xmlFile, 'width'),
    height: optionalSize(size.height, xmlFile, 'height'),
    depth: optionalSize(size.depth, xmlFile, 'depth'),
    objects,
  };
}

/**
 * Read and parse a VOC annotation XML file.
 * @throws naming the file when it cannot be read, and the errors of `parseVocXml`.
 */
export async function readVocXml(xmlFile: string): Promise<VocXmlAnnotation> {
  let xml: string;
  try {
    xml = await fs.readFile(xmlFile, 'utf8');
  } catch (e) {
    throw new Error(`cannot read VOC XML '${xmlFile}': ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseVocXml(xml, xmlFile);
}

/**
 * VOC `bndbox` (1-based, inclusive) → continuous xyxy pixels: `[xmin - 1, ymin - 1, xmax, ymax]`.
 * Reference: detectron2 `data/datasets/pascal_voc.py` (`bbox[0] -= 1.0; bbox[1] -= 1.0`).
 */
export function vocBoxToXyxy(bndbox: readonly number[]): [number, number, number, number] {
  return [bndbox[0] - 1, bndbox[1] - 1, bndbox[2], bndbox[3]];
}

/**
 * Continuous xyxy pixels → VOC inclusive coordinates `[x0 + 1, y0 + 1, x1, y1]` (inverse of `vocBoxToXyxy`), the
 * form `evaluateVocDetection` (`voc_ap.ts`, width `x2 - x1 + 1`) and VOC results files take.
 */
export function vocBoxFromXyxy(boxXyxy: ArrayLike<number>): [number, number, number, number] {
  return [boxXyxy[0] + 1, boxXyxy[1] + 1, boxXyxy[2], boxXyxy[3]];
}

/**
 * Whether a VOC box has zero or negative extent as written (`xmax <= xmin` or `ymax <= ymin`): the annotator drew a
 * point or a line. In the inclusive reading such a box still covers one pixel (and `vocBoxToXyxy` gives it 1 px), but
 * it marks no object; adapters report it and drop it on request.
 */
export function isDegenerateVocBox(bndbox: readonly number[]): boolean {
  return !(bndbox[2] > bndbox[0] && bndbox[3] > bndbox[1]);
}
