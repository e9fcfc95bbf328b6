/**
 * The data checker: lists a dataset with the same adapter training uses (collecting every problem instead of
 * stopping at the first), then checks what the adapter does not open: image files exist and their headers agree
 * with the annotation's size, COCO segmentations match their image, segmentation masks decode to known classes and
 * have their image's size. Prints a summary: images, instances per class, image and instance size histograms.
 *
 * Severity: everything that would make a record unusable or silently wrong is an error (missing files, duplicate
 * ids, COCO annotation id 0, unknown categories, boxes of zero size or reaching outside the image, size mismatches,
 * malformed XML, undecodable masks); images without annotations are counted, not reported.
 *
 * Image sizes are compared as loading reads the image: EXIF-oriented, or as stored when the orientation tag swaps
 * width and height and the annotation gives the stored size (`followsStoredPixels`); the summary counts the images
 * with an orientation tag.
 *
 * Reference: COCO area ranges of pycocotools `cocoeval.py` (`small < 32², medium < 96²`) for the instance histogram.
 */
import { existsSync, readdirSync, statSync } from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { Coco } from './coco/coco';
import { CocoDetection } from './coco/dataset';
import { formatIssue, type DatasetIssue } from './dataset_issues';
import { followsStoredPixels, orientationSwapsSides } from './pipeline/decode';
import { readLabelMask } from './pipeline/png_index';
import { scanVocDetection, type VocDetectionOptions } from './voc/detection';
import { scanVocSegmentation, type VocSegmentationOptions } from './voc/segmentation';

/** Dataset formats the checker knows. */
export type CheckFormat = 'coco' | 'voc' | 'voc-seg';

/** Options of `checkData`. */
export interface CheckDataOptions {
  format: CheckFormat;
  /** COCO: the instances JSON (default: `root` itself when it ends in `.json`). */
  annotationFile?: string;
  /** COCO: the image folder (default: the JSON's folder). VOC: use `voc.imagesDir` / `seg.imagesDir`. */
  imagesDir?: string;
  /** VOC detection layout, split, classes (default classes: `found`). */
  voc?: VocDetectionOptions;
  /** VOC segmentation layout, split, mask encoding. */
  seg?: VocSegmentationOptions;
  /** Open image headers and masks (slower; default true). */
  checkFiles?: boolean;
}

/** Counts printed by the checker. */
export interface CheckSummary {
  format: CheckFormat;
  /** What was checked (annotation file or root). */
  source: string;
  /** Images listed. */
  images: number;
  /** Images with no (non-crowd) annotation (detection) or whose mask is all background/ignore (segmentation). */
  emptyImages: number;
  /** Instances (detection) kept by the adapter. */
  instances: number;
  /** Class name → instances (detection) or images containing it (segmentation). */
  perClass: Record<string, number>;
  /** `WxH` → number of images, most frequent first. */
  imageSizes: { size: string; count: number }[];
  /** Instance boxes by COCO area range (pixels²): small < 32², medium < 96², large. Detection only. */
  instanceSizes?: { small: number; medium: number; large: number };
  /**
   * Images whose EXIF orientation tag rotates or mirrors them (2..8), how many of those swap width and height
   * (5..8), and how many of these the annotation gives at the stored size (loading then follows the annotation and
   * does not rotate them). Counted when image headers are read.
   */
  exifOrientation?: { tagged: number; swapsSides: number; annotatedAsStored: number };
}

/** What `checkData` found. */
export interface CheckReport {
  summary: CheckSummary;
  issues: DatasetIssue[];
  errors: number;
  warnings: number;
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

/** Oriented size and EXIF orientation (1..8, 1 when absent) from the header, or an issue. */
async function headerSize(
  file: string, record: string, issues: DatasetIssue[],
): Promise<{ width: number; height: number; orientation: number } | null> {
  try {
    const md = await sharp(file).metadata();
    const width = md.autoOrient?.width ?? md.width;
    const height = md.autoOrient?.height ?? md.height;
    if (!width || !height) throw new Error('header has no size');
    return { width, height, orientation: md.orientation ?? 1 };
  } catch (e) {
    // Ask the file system, not the decoder's message (libvips words a missing input differently across paths).
    const missing = !existsSync(file);
    issues.push({ code: missing ? 'missing-file' : 'unreadable-file', severity: 'error', file, record,
      message: missing ? 'image does not exist' : `cannot read the image header: ${e instanceof Error ? e.message : String(e)}` });
    return null;
  }
}

/** Counts of EXIF orientation tags (see `CheckSummary.exifOrientation`). */
function newOrientationCounts(): { tagged: number; swapsSides: number; annotatedAsStored: number } {
  return { tagged: 0, swapsSides: 0, annotatedAsStored: 0 };
}

/**
 * Whether a header's size agrees with the annotation's, as loading reads the image: oriented, or stored when the tag
 * swaps sides and the annotation gives the stored size (`followsStoredPixels`). Counts the tag.
 */
function sizeAgrees(
  s: { width: number; height: number; orientation: number },
  annotated: { width: number; height: number },
  counts: { tagged: number; swapsSides: number; annotatedAsStored: number },
): boolean {
  if (s.orientation >= 2 && s.orientation <= 8) counts.tagged++;
  if (orientationSwapsSides(s.orientation)) counts.swapsSides++;
  if (followsStoredPixels(s.orientation, s, annotated)) {
    counts.annotatedAsStored++;
    return true;
  }
  return s.width === annotated.width && s.height === annotated.height;
}

function sizeHistogram(sizes: { width: number; height: number }[]): { size: string; count: number }[] {
  const m = new Map<string, number>();
  for (const s of sizes) m.set(`${s.width}x${s.height}`, (m.get(`${s.width}x${s.height}`) ?? 0) + 1);
  return [...m.entries()].map(([size, count]) => ({ size, count })).sort((a, b) => b.count - a.count || (a.size < b.size ? -1 : 1));
}

function areaBuckets(boxes: Float32Array, into: { small: number; medium: number; large: number }): void {
  for (let i = 0; i < boxes.length; i += 4) {
    const a = (boxes[i + 2] - boxes[i]) * (boxes[i + 3] - boxes[i + 1]);
    if (a < 32 * 32) into.small++;
    else if (a < 96 * 96) into.medium++;
    else into.large++;
  }
}

/** Detection checks treat clipped and degenerate boxes as errors (the adapters fix them with a warning). */
function promote(issues: DatasetIssue[]): DatasetIssue[] {
  return issues.map((i) => (i.code === 'box-outside-image' || i.code === 'degenerate-box' ? { ...i, severity: 'error' } : i));
}

/**
 * The image folder of a COCO instances file when none is given: `ROOT/<split>/` for the standard layout
 * `ROOT/annotations/instances_<split>.json` when that folder exists, else the JSON's folder.
 */
export function defaultCocoImagesDir(annFile: string): string {
  const m = /^instances_(.+)\.json$/.exec(path.basename(annFile));
  if (m) {
    const candidate = path.join(path.dirname(path.dirname(annFile)), m[1]);
    if (existsSync(candidate)) return candidate;
  }
  return path.dirname(annFile);
}

async function checkCoco(root: string, opts: CheckDataOptions): Promise<CheckReport> {
  const annFile = path.resolve(opts.annotationFile ?? root);
  if (!annFile.endsWith('.json')) {
    throw new Error(`check-data coco: give the instances JSON (as the root or --annotations), got '${annFile}'`);
  }
  const imagesDir = path.resolve(opts.imagesDir ?? defaultCocoImagesDir(annFile));
  const coco = Coco.fromFile(annFile);
  const ds = new CocoDetection(coco, imagesDir, { collectIssues: true });
  const issues = promote(ds.issues);
  const perClass: Record<string, number> = Object.fromEntries(ds.classes.map((c) => [c, 0]));
  const buckets = { small: 0, medium: 0, large: 0 };
  let instances = 0;
  let empty = 0;
  for (const r of ds.records) {
    for (const l of r.target.labels) perClass[ds.classes[l]]++;
    instances += r.target.labels.length;
    if (!r.target.iscrowd!.some((c) => c === 0)) empty++;
    areaBuckets(r.target.boxes, buckets);
    for (const annId of r.annotationIds) {
      const ann = coco.anns.get(annId)!;
      if (ann.segmentation === undefined) continue;
      try {
        const rle = coco.annToRle(ann);
        if (rle.h !== r.height || rle.w !== r.width) {
          issues.push({ code: 'size-mismatch', severity: 'error', file: annFile, record: `annotation id ${annId} (image id ${r.imageId})`,
            message: `segmentation size ${rle.h}x${rle.w} (HxW) differs from the image's ${r.height}x${r.width}` });
        }
      } catch (e) {
        issues.push({ code: 'bad-record', severity: 'error', file: annFile, record: `annotation id ${annId} (image id ${r.imageId})`,
          message: e instanceof Error ? e.message : String(e) });
      }
    }
  }
  const orientation = newOrientationCounts();
  if (opts.checkFiles ?? true) {
    await forEachLimit(ds.records, 8, async (r) => {
      const record = `image id ${r.imageId}`;
      const s = await headerSize(r.file, record, issues);
      if (s && !sizeAgrees(s, r, orientation)) {
        issues.push({ code: 'size-mismatch', severity: 'error', file: r.file, record,
          message: `image is ${s.width}x${s.height} (WxH), '${annFile}' says ${r.width}x${r.height}` });
      }
    });
  }
  return finish({
    format: 'coco', source: annFile, images: ds.records.length, emptyImages: empty, instances, perClass,
    imageSizes: sizeHistogram(ds.records), instanceSizes: buckets,
    ...((opts.checkFiles ?? true) ? { exifOrientation: orientation } : {}),
  }, issues);
}

async function checkVoc(root: string, opts: CheckDataOptions): Promise<CheckReport> {
  const set = await scanVocDetection(root, { classes: 'found', ...opts.voc, collectIssues: true });
  const issues = promote(set.issues);
  const perClass: Record<string, number> = Object.fromEntries(set.classes.map((c) => [c, 0]));
  const buckets = { small: 0, medium: 0, large: 0 };
  let instances = 0;
  let empty = 0;
  for (const r of set.records) {
    for (const l of r.target.labels) perClass[set.classes[l]]++;
    instances += r.target.labels.length;
    if (r.target.labels.length === 0) empty++;
    areaBuckets(r.target.boxes, buckets);
  }
  const orientation = newOrientationCounts();
  if (opts.checkFiles ?? true) {
    await forEachLimit(set.records.filter((r) => !r.sizeFromImage), 8, async (r) => {
      const s = await headerSize(r.file, `id ${r.imageId}`, issues);
      if (s && !sizeAgrees(s, r, orientation)) {
        issues.push({ code: 'size-mismatch', severity: 'error', file: r.xmlFile, record: `<size>`,
          message: `says ${r.width}x${r.height} (WxH) but the image '${r.file}' is ${s.width}x${s.height}` });
      }
    });
  }
  return finish({
    format: 'voc', source: set.root, images: set.records.length, emptyImages: empty, instances, perClass,
    imageSizes: sizeHistogram(set.records), instanceSizes: buckets,
    ...((opts.checkFiles ?? true) ? { exifOrientation: orientation } : {}),
  }, issues);
}

async function checkVocSeg(root: string, opts: CheckDataOptions): Promise<CheckReport> {
  const set = await scanVocSegmentation(root, { ...opts.seg, collectIssues: true });
  const issues = [...set.issues];
  const perClass: Record<string, number> = Object.fromEntries(set.classes.map((c) => [c, 0]));
  const sizes: { width: number; height: number }[] = [];
  let empty = 0;
  if (opts.checkFiles ?? true) {
    await forEachLimit(set.records, 4, async (r) => {
      const record = `id ${r.imageId}`;
      const s = await headerSize(r.file, record, issues);
      if (s) sizes.push(s);
      try {
        const m = await readLabelMask(r.maskFile, r.mask);
        if (s && (m.width !== s.width || m.height !== s.height)) {
          issues.push({ code: 'size-mismatch', severity: 'error', file: r.maskFile, record,
            message: `mask is ${m.width}x${m.height} (WxH) but its image '${r.file}' is ${s.width}x${s.height}` });
        }
        const present = new Set(m.mask);
        let objects = 0;
        for (const v of present) {
          if (v < set.classes.length) {
            perClass[set.classes[v]]++;
            if (v !== 0) objects++;
          }
        }
        if (objects === 0) empty++;
      } catch (e) {
        issues.push({ code: 'unreadable-file', severity: 'error', file: r.maskFile, record, message: e instanceof Error ? e.message : String(e) });
      }
    });
  }
  return finish({
    format: 'voc-seg', source: set.root, images: set.records.length, emptyImages: empty, instances: 0, perClass,
    imageSizes: sizeHistogram(sizes),
  }, issues);
}

function finish(summary: CheckSummary, issues: DatasetIssue[]): CheckReport {
  return {
    summary,
    issues,
    errors: issues.filter((i) => i.severity === 'error').length,
    warnings: issues.filter((i) => i.severity === 'warning').length,
  };
}

/**
 * The format of a dataset path when none is given (`check-data` without `--format`): a `.json` file is COCO instances;
 * a folder with `Annotations/` is VOC detection (VOC 2012 also has `SegmentationClass/`: detection is checked and the
 * reason says how to check the masks); a folder with `SegmentationClass/` and no `Annotations/` is VOC segmentation.
 * @returns the format and a one-line reason naming what was found.
 * @throws Error naming the path when it is none of these (a COCO root folder: the error names its instances files).
 */
export function detectCheckFormat(root: string): { format: CheckFormat; reason: string } {
  if (!existsSync(root)) throw new Error(`check-data: ${root} does not exist`);
  if (statSync(root).isFile()) {
    if (root.toLowerCase().endsWith('.json')) return { format: 'coco', reason: `${root} is a JSON file: COCO instances` };
    throw new Error(`check-data: ${root} is a file but not a COCO instances .json; pass --format`);
  }
  const has = (d: string) => existsSync(path.join(root, d));
  if (has('Annotations')) {
    const also = has('SegmentationClass') ? '; it also has SegmentationClass/: --format voc-seg checks the masks' : '';
    return { format: 'voc', reason: `${root} has Annotations/: VOC detection${also}` };
  }
  if (has('SegmentationClass')) return { format: 'voc-seg', reason: `${root} has SegmentationClass/ and no Annotations/: VOC segmentation` };
  const annDir = path.join(root, 'annotations');
  const instances = existsSync(annDir) ? readdirSync(annDir).filter((f) => /^instances_.*\.json$/.test(f)).sort() : [];
  if (instances.length > 0) {
    throw new Error(`check-data: ${root} is a COCO root; pass one instances file, e.g. ${path.join(annDir, instances[0])} (found ${instances.join(', ')})`);
  }
  throw new Error(`check-data: cannot tell the format of ${root} (no .json file, no Annotations/ or SegmentationClass/); pass --format coco, voc or voc-seg`);
}

/**
 * Check a dataset (see the module docstring for what is checked).
 * @param root - COCO: the instances JSON; VOC / VOC segmentation: the dataset root.
 * @returns the summary and every issue found (nothing is thrown for data problems).
 * @throws only when the dataset cannot be listed at all (unreadable annotation file or id list).
 */
export async function checkData(root: string, opts: CheckDataOptions): Promise<CheckReport> {
  switch (opts.format) {
    case 'coco':
      return checkCoco(root, opts);
    case 'voc':
      return checkVoc(root, opts);
    case 'voc-seg':
      return checkVocSeg(root, opts);
    default: {
      const never: never = opts.format;
      throw new Error(`check-data: unknown format '${String(never)}', expected coco, voc or voc-seg`);
    }
  }
}

/**
 * The checker's printout: one line per issue (errors first, at most `maxIssues`), then the summary.
 */
export function formatCheckReport(report: CheckReport, maxIssues = 50): string {
  const s = report.summary;
  const out: string[] = [];
  const sorted = [...report.issues].sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));
  for (const i of sorted.slice(0, maxIssues)) out.push(formatIssue(i));
  if (sorted.length > maxIssues) out.push(`... ${sorted.length - maxIssues} more issue(s)`);
  out.push(`${s.format} ${s.source}`);
  out.push(`images: ${s.images} (${s.emptyImages} without ${s.format === 'voc-seg' ? 'object pixels' : 'annotations'})`);
  if (s.format !== 'voc-seg') out.push(`instances: ${s.instances}`);
  const w = Math.max(5, ...Object.keys(s.perClass).map((k) => k.length));
  out.push(s.format === 'voc-seg' ? 'images per class:' : 'instances per class:');
  for (const [name, n] of Object.entries(s.perClass)) out.push(`  ${name.padEnd(w)}  ${n}`);
  out.push('image sizes (WxH: count):');
  for (const { size, count } of s.imageSizes.slice(0, 10)) out.push(`  ${size}: ${count}`);
  if (s.imageSizes.length > 10) out.push(`  ... ${s.imageSizes.length - 10} more size(s)`);
  if (s.instanceSizes) {
    out.push(`instance sizes: small (< 32²) ${s.instanceSizes.small}, medium (< 96²) ${s.instanceSizes.medium}, ` +
      `large ${s.instanceSizes.large}`);
  }
  const o = s.exifOrientation;
  if (o && o.tagged > 0) {
    out.push(`EXIF orientation: ${o.tagged} image(s) carry a tag that rotates or mirrors them, ${o.swapsSides} swapping ` +
      `width and height; ${o.annotatedAsStored} of these are annotated at their stored size and are read as stored ` +
      '(not rotated), as PIL and torchvision read them');
  }
  out.push(`${report.errors} error(s), ${report.warnings} warning(s)`);
  return out.join('\n');
}
