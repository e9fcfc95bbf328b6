/**
 * Pascal VOC detection adapter: `Annotations/<id>.xml` + `JPEGImages/<id>.jpg` + `ImageSets/Main/<split>.txt`, with
 * configurable folder names and an optional split list (raccoon-style datasets have `annotations/` + `images/` and no
 * `ImageSets`: every XML of the annotation folder is taken, sorted by name).
 *
 * Boxes become continuous xyxy pixels `[xmin - 1, ymin - 1, xmax, ymax]` (detectron2's reading of VOC's 1-based
 * inclusive coordinates; see `xml.ts`). `difficult` and `truncated` are kept per object; difficult objects stay in
 * the target, flagged, unless `dropDifficult` (the VOC evaluator ignores them; detectron2 trains on them). Boxes of
 * zero extent as written (`xmin == xmax`, e.g. bccd `BloodImage_00338.xml`) are reported and kept as 1 px boxes or
 * dropped (`degenerateBoxes`); boxes reaching outside the image are clipped to it and reported. No box of a record has
 * a zero or negative width, so no NaN can come out of a log-space box coder later.
 *
 * Reference: detectron2 `data/datasets/pascal_voc.py` (`load_voc_instances`), torchvision `datasets/voc.py`
 * (`VOCDetection` folder layout), VOC devkit `PASreadrecord.m`.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { readImageFile } from '../pipeline/decode';
import { exists, listVocIds, readIdList } from './layout';
import type { DetectionRecord } from '../pipeline/detection_presets';
import type { VocImageGt } from './voc_ap';
import { IssueLog, type DatasetIssue } from '../dataset_issues';
import { isDegenerateVocBox, readVocXml, VOC_CLASSES, vocBoxFromXyxy, vocBoxToXyxy, type VocXmlAnnotation } from './xml';

/** Folder layout and split of a VOC-style root. */
export interface VocLayoutOptions {
  /** Annotation folder, relative to the root. Default `Annotations`. */
  annotationsDir?: string;
  /** Image folder, relative to the root. Default `JPEGImages`. */
  imagesDir?: string;
  /** Image file extension appended to the id, with the dot. Default `.jpg`. When missing, `<filename>` is tried. */
  imageExt?: string;
  /** Split name: ids from `ImageSets/Main/<split>.txt`. Default: every `*.xml` of the annotation folder, sorted. */
  split?: string;
  /** An explicit id list file (absolute, or relative to the root); overrides `split`. First token of each line. */
  splitFile?: string;
}

/** Options of `scanVocDetection`. */
export interface VocDetectionOptions extends VocLayoutOptions {
  /**
   * The label space: `voc` (the 20 classes, default), `found` (every name in the listed XMLs, sorted by code
   * point), or an explicit list (label i = classes[i]).
   */
  classes?: 'voc' | 'found' | readonly string[];
  /** An object whose name is not in `classes`: `error` (default) or `skip` (reported as a warning). */
  unknownClasses?: 'error' | 'skip';
  /** Leave `difficult` objects out of the records (training only: the VOC evaluator needs them). Default false. */
  dropDifficult?: boolean;
  /** Boxes of zero or negative extent as written: `keep` (as 1 px boxes when positive after conversion; default),
   * `drop`, or `error`. Always reported. */
  degenerateBoxes?: 'keep' | 'drop' | 'error';
  /** Collect error issues instead of throwing on the first (the data checker). Records with errors are left out. */
  collectIssues?: boolean;
}

/** A VOC image with its objects. `target.boxes` are continuous xyxy pixels. */
export interface VocDetectionRecord extends DetectionRecord {
  imageId: string;
  /** The XML file. */
  xmlFile: string;
  /** [M] 0/1, VOC `truncated`, aligned with the target's boxes. */
  truncated: Uint8Array;
  /** Object names, aligned with the target's boxes. */
  names: string[];
  /** [M * 4] the target's boxes in float64 (fractional XML coordinates exactly; `target.boxes` is float32). */
  boxesFloat64: Float64Array;
  /** `<size><depth>` as written (1 for grayscale JPEGs), if present. */
  depth?: number;
  /** True when the size came from the image header because the XML had none. */
  sizeFromImage: boolean;
}

/** A listed VOC detection dataset. */
export interface VocDetectionSet {
  /** Absolute root. */
  root: string;
  /** K class names; `classes[label]`. */
  classes: string[];
  /** One record per listed id, in list order (records with errors are left out when collecting). */
  records: VocDetectionRecord[];
  /** Problems found (warnings always; errors only with `collectIssues`). */
  issues: DatasetIssue[];
}

/** Paths of a VOC layout. */
export interface VocLayout {
  root: string;
  annotationsDir: string;
  imagesDir: string;
  imageExt: string;
}

/** Resolve the folders of a VOC root. */
export function vocLayout(root: string, opts: VocLayoutOptions = {}): VocLayout {
  const abs = path.resolve(root);
  return {
    root: abs,
    annotationsDir: path.resolve(abs, opts.annotationsDir ?? 'Annotations'),
    imagesDir: path.resolve(abs, opts.imagesDir ?? 'JPEGImages'),
    imageExt: opts.imageExt ?? '.jpg',
  };
}

/** Run `fn` over `items` with at most `limit` pending at once, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * List a VOC detection root: parse every listed XML, find its image, convert boxes, map names to labels.
 * @param root - dataset root (e.g. `VOC2007/`, `bccd-voc/BCCD/`, `raccoon-voc/`).
 * @returns records in list order, the class names and the issues found.
 * @throws `DatasetError` naming the file and record for the first error (missing XML or image, unparsable XML,
 * unknown class with `unknownClasses: 'error'`, duplicate id in the list, degenerate box with `degenerateBoxes:
 * 'error'`), unless `collectIssues`; an Error when the id list cannot be read or is empty.
 * Reference: detectron2 `load_voc_instances`.
 */
export async function scanVocDetection(root: string, opts: VocDetectionOptions = {}): Promise<VocDetectionSet> {
  const layout = vocLayout(root, opts);
  const log = new IssueLog(opts.collectIssues ?? false);
  const { ids, listFile } = await listVocIds(layout.root, 'Main', opts, layout.annotationsDir, '.xml');
  if (ids.length === 0) throw new Error(`VOC detection: the id list '${listFile}' is empty`);
  const seen = new Map<string, number>();
  const unique = ids.filter(({ id, line }) => {
    const prev = seen.get(id);
    if (prev !== undefined) {
      log.add({ code: 'duplicate-id', severity: 'error', file: listFile, record: `line ${line}`,
        message: `id '${id}' is listed again (first at line ${prev})` });
      return false;
    }
    seen.set(id, line);
    return true;
  });

  // Parse XMLs (bounded concurrency) and find images.
  const parsed = await mapLimit(unique, 32, async ({ id }) => {
    const xmlFile = path.join(layout.annotationsDir, `${id}.xml`);
    let ann: VocXmlAnnotation;
    try {
      ann = await readVocXml(xmlFile);
    } catch (e) {
      const missing = !(await exists(xmlFile));
      log.add({ code: missing ? 'missing-file' : 'unreadable-file', severity: 'error', file: xmlFile, record: `id ${id}`,
        message: missing ? 'annotation file does not exist' : (e instanceof Error ? e.message : String(e)) });
      return null;
    }
    let imageFile = path.join(layout.imagesDir, `${id}${layout.imageExt}`);
    if (!(await exists(imageFile))) {
      const alt = ann.filename ? path.join(layout.imagesDir, ann.filename) : undefined;
      if (alt && (await exists(alt))) {
        imageFile = alt;
      } else {
        log.add({ code: 'missing-file', severity: 'error', file: imageFile, record: `id ${id}`,
          message: `image does not exist${alt ? ` (nor '${alt}' from <filename>)` : ''}` });
        return null;
      }
    }
    let { width, height } = ann;
    let sizeFromImage = false;
    if (width === undefined || height === undefined) {
      try {
        const enc = await readImageFile(imageFile);
        width = enc.width;
        height = enc.height;
        sizeFromImage = true;
      } catch (e) {
        log.add({ code: 'unreadable-file', severity: 'error', file: imageFile, record: `id ${id}`,
          message: `the XML has no <size> and the image header cannot be read: ${e instanceof Error ? e.message : String(e)}` });
        return null;
      }
    }
    return { id, ann, imageFile, width, height, sizeFromImage };
  });

  // Label space.
  let classes: string[];
  const spec = opts.classes ?? 'voc';
  if (spec === 'voc') classes = [...VOC_CLASSES];
  else if (spec === 'found') {
    const names = new Set<string>();
    for (const p of parsed) if (p) for (const o of p.ann.objects) names.add(o.name);
    classes = [...names].sort();
  } else classes = [...spec];
  if (new Set(classes).size !== classes.length) throw new Error(`VOC detection: class list has duplicates: ${JSON.stringify(classes)}`);
  const labelOf = new Map(classes.map((c, i) => [c, i] as const));

  const degenerate = opts.degenerateBoxes ?? 'keep';
  const records: VocDetectionRecord[] = [];
  for (const p of parsed) {
    if (!p) continue;
    const { id, ann, imageFile, width, height } = p;
    const boxes: number[] = [];
    const labels: number[] = [];
    const difficult: number[] = [];
    const truncated: number[] = [];
    const names: string[] = [];
    let bad = false;
    ann.objects.forEach((o, k) => {
      const record = `object ${k} ('${o.name}')`;
      const label = labelOf.get(o.name);
      if (label === undefined) {
        const skip = (opts.unknownClasses ?? 'error') === 'skip';
        log.add({ code: 'unknown-class', severity: skip ? 'warning' : 'error', file: ann.xmlFile, record,
          message: `class '${o.name}' is not in the class list (${classes.length} classes${spec === 'voc' ? ', VOC' : ''}); ` +
            `${skip ? 'skipped' : "pass --classes found or the class list (data.classes in a config), or skip unknown classes (unknownClasses: 'skip')"}` });
        if (!skip) bad = true;
        return;
      }
      if (opts.dropDifficult && o.difficult) return;
      let xyxy = vocBoxToXyxy(o.bndbox);
      if (isDegenerateVocBox(o.bndbox)) {
        const positive = xyxy[2] > xyxy[0] && xyxy[3] > xyxy[1];
        const keep = degenerate === 'keep' && positive;
        log.add({ code: 'degenerate-box', severity: degenerate === 'error' || (degenerate === 'keep' && !positive) ? 'error' : 'warning',
          file: ann.xmlFile, record,
          message: `box xmin=${o.bndbox[0]} ymin=${o.bndbox[1]} xmax=${o.bndbox[2]} ymax=${o.bndbox[3]} has zero or negative ` +
            `extent${keep ? '; kept as a 1-pixel box' : degenerate === 'drop' ? '; dropped' : ''}` });
        if (!keep) {
          if (degenerate !== 'drop') bad = true;
          return;
        }
      }
      if (xyxy[0] < 0 || xyxy[1] < 0 || xyxy[2] > width || xyxy[3] > height) {
        const clipped: [number, number, number, number] = [
          Math.max(0, xyxy[0]), Math.max(0, xyxy[1]), Math.min(width, xyxy[2]), Math.min(height, xyxy[3])];
        const empty = !(clipped[2] > clipped[0] && clipped[3] > clipped[1]);
        log.add({ code: 'box-outside-image', severity: 'warning', file: ann.xmlFile, record,
          message: `box xyxy [${xyxy.join(', ')}] reaches outside the ${width}x${height} (WxH) image; ` +
            (empty ? 'nothing is left inside: dropped' : `clipped to [${clipped.join(', ')}]`) });
        if (empty) return;
        xyxy = clipped;
      }
      boxes.push(...xyxy);
      labels.push(label);
      difficult.push(o.difficult ? 1 : 0);
      truncated.push(o.truncated ? 1 : 0);
      names.push(o.name);
    });
    if (bad) continue;
    records.push({
      file: imageFile,
      imageId: id,
      height,
      width,
      target: {
        boxes: Float32Array.from(boxes),
        labels: Int32Array.from(labels),
        difficult: Uint8Array.from(difficult),
      },
      source: ann.xmlFile,
      xmlFile: ann.xmlFile,
      truncated: Uint8Array.from(truncated),
      names,
      boxesFloat64: Float64Array.from(boxes),
      depth: ann.depth,
      sizeFromImage: p.sizeFromImage,
    });
  }
  return { root: layout.root, classes, records, issues: log.issues };
}

/**
 * The ground truth of a VOC set in the form `evaluateVocDetection` takes: per image, objects with inclusive VOC
 * coordinates (`vocBoxFromXyxy`) and their difficult flags.
 * Note: boxes clipped or dropped while listing are given as listed, not as written in the XML.
 */
export function vocGroundTruth(set: VocDetectionSet): VocImageGt[] {
  return set.records.map((r) => ({
    imageId: r.imageId,
    objects: r.names.map((_, i) => ({
      className: set.classes[r.target.labels[i]],
      boxXyxy: vocBoxFromXyxy(r.target.boxes.subarray(i * 4, i * 4 + 4)),
      difficult: r.target.difficult![i] === 1,
    })),
  }));
}

export { listVocIds, readIdList };
