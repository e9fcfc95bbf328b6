/**
 * COCO instances adapter: an `instances_*.json` file plus its image folder, turned into detection records with
 * contiguous labels, and instance masks decoded on demand.
 *
 * Conventions:
 * - COCO `bbox` is xywh in absolute pixels; records hold xyxy (`[x, y, x + w, y + h]`), converted once here, clipped
 *   to the image (torchvision `ConvertCocoPolysToMask` clamps) and dropped when nothing is left (width or height 0
 *   after clipping, as torchvision's `keep` filter), each such case reported.
 * - Category ids (1..90 with holes in COCO) map to contiguous labels 0..K-1 in increasing id order over the file's
 *   `categories` (detectron2 `thing_dataset_id_to_contiguous_id`); `labelToCategoryId` maps back, for results files.
 * - `iscrowd` regions are kept, flagged in `target.iscrowd` (the COCO evaluator ignores matches to them; training
 *   usually drops them: `dropCrowd`).
 * - Images without any non-crowd annotation are kept unless `filterEmpty` (detectron2
 *   `filter_images_with_only_crowd_annotations`, torchvision `_coco_remove_images_without_annotations`).
 * - Masks: polygons (single or multi-part), uncompressed RLE (crowd) and compressed RLE become binary masks through
 *   the COCO mask API (`Coco.annToRle`, `rleDecode`), only when asked for (`instanceMasks`).
 * - The image's `width`/`height` in the JSON are checked against the decoded image when a sample is loaded (the
 *   error names the file and the image id).
 *
 * Reference: torchvision `references/detection/coco_utils.py` (`ConvertCocoPolysToMask`,
 * `_coco_remove_images_without_annotations`), detectron2 `data/datasets/coco.py` (`load_coco_json`), pycocotools
 * `coco.py` (`annToRLE`, `annToMask`).
 */
import * as path from 'path';
import type { SeedSequence } from '../../src/common/seed';
import { IssueLog, type DatasetIssue } from '../dataset_issues';
import type { MapDataset } from '../loader';
import type { DetectionRecord, DetectionTransform } from '../pipeline/detection_presets';
import type { DetectionSample } from '../types';
import { annotationIdWarning, Coco } from './coco';
import { rleDecode } from './mask_api';
import type { CocoAnnotationJson } from './types';
import { briefJson } from '../brief_json';

/** Options of `CocoDetection`. */
export interface CocoDetectionOptions {
  /** Leave out images that have no non-crowd annotation (after the box checks). Default false (kept). */
  filterEmpty?: boolean;
  /** Leave crowd annotations out of the targets. Default false (kept, flagged in `iscrowd`). */
  dropCrowd?: boolean;
  /** Collect error issues instead of throwing on the first (the data checker); bad annotations are left out. */
  collectIssues?: boolean;
  /**
   * Annotation id 0 and ids used by several annotations, which pycocotools evaluates its own way (the last
   * annotation of an id stands for all of them; a match to id 0 counts as none): `error` (default) reports each
   * such annotation as an error; `warn` keeps every annotation and reports one warning with the count, the first
   * ids, that evaluation follows pycocotools, and how to fix the file (what an evaluation that matches pycocotools
   * wants).
   */
  annotationIdProblems?: 'error' | 'warn';
}

/** A COCO image with its annotations. `target.boxes` are xyxy absolute pixels; labels contiguous. */
export interface CocoDetectionRecord extends DetectionRecord {
  imageId: number;
  /** COCO annotation ids, aligned with the target's boxes (for `instanceMasks` and error messages). */
  annotationIds: number[];
}

/**
 * A COCO instances dataset with contiguous labels.
 * Holds the parsed JSON (through `coco`) and the records; decodes nothing until asked.
 */
export class CocoDetection {
  /** The COCO API object (the colleague module `coco.ts`), for evaluation and raw access. */
  readonly coco: Coco;
  /** Absolute image folder; `file_name` is resolved against it. */
  readonly imageRoot: string;
  /** `[K]` category id of each label (increasing ids). */
  readonly labelToCategoryId: Int32Array;
  /** Category name of each label. */
  readonly classes: string[];
  /** Records in the order of the file's `images`, after `filterEmpty`. */
  readonly records: CocoDetectionRecord[];
  /** Problems found (warnings always; errors only with `collectIssues`). */
  readonly issues: DatasetIssue[];
  private readonly catToLabel: Map<number, number>;

  /**
   * @param coco - a loaded instances file (`Coco.fromFile`).
   * @param imageRoot - folder holding the images (`train2017/`).
   * @throws `DatasetError` naming the file and the record for the first error unless `collectIssues`: an annotation
   * whose `category_id` is not among `categories`, whose `image_id` is not among `images`, whose `bbox` is not 4
   * finite numbers with w, h >= 0, or an image without positive integer `width`/`height` or `file_name`; also
   * duplicate image ids, and annotation id 0 or duplicate annotation ids unless `annotationIdProblems: 'warn'`.
   */
  constructor(coco: Coco, imageRoot: string, opts: CocoDetectionOptions = {}) {
    this.coco = coco;
    this.imageRoot = path.resolve(imageRoot);
    const src = coco.source;
    const log = new IssueLog(opts.collectIssues ?? false);
    const { images, annotations, categories } = coco.dataset;

    const catIds = [...new Set(categories.map((c) => c.id))].sort((a, b) => a - b);
    if (catIds.length !== categories.length) {
      const dup = categories.find((c, i) => categories.findIndex((d) => d.id === c.id) !== i)!;
      log.add({ code: 'duplicate-id', severity: 'error', file: src, record: `category id ${dup.id}`, message: 'category id appears twice' });
    }
    this.labelToCategoryId = Int32Array.from(catIds);
    this.catToLabel = new Map(catIds.map((id, i) => [id, i] as const));
    this.classes = catIds.map((id) => String(coco.cats.get(id)?.name ?? id));

    const seenImg = new Set<number>();
    for (const img of images) {
      if (seenImg.has(img.id)) log.add({ code: 'duplicate-id', severity: 'error', file: src, record: `image id ${img.id}`, message: 'image id appears twice' });
      seenImg.add(img.id);
    }
    const idWarning = opts.annotationIdProblems === 'warn' ? annotationIdWarning(src, annotations) : undefined;
    if (idWarning) {
      log.add({ code: 'duplicate-id', severity: 'warning', file: src, record: 'annotation ids', message: idWarning.slice(src.length + 2) });
    }
    // pycocotools reads ann['iscrowd'] (a KeyError without it); like loadRes's records, a missing flag means 0.
    const noCrowdFlag = annotations.filter((a) => a.iscrowd === undefined).length;
    if (noCrowdFlag > 0) {
      log.add({ code: 'bad-record', severity: 'warning', file: src, record: 'annotations',
        message: `${noCrowdFlag} of ${annotations.length} annotation(s) have no "iscrowd"; taken as 0 (not a crowd region)` });
    }
    const seenAnn = new Set<number>();
    for (const ann of annotations) {
      if (opts.annotationIdProblems !== 'warn') {
        if (seenAnn.has(ann.id)) log.add({ code: 'duplicate-id', severity: 'error', file: src, record: `annotation id ${ann.id}`, message: 'annotation id appears twice' });
        if (ann.id === 0) {
          log.add({ code: 'bad-record', severity: 'error', file: src, record: 'annotation id 0',
            message: 'pycocotools never counts a match to annotation id 0 (0 means "unmatched" there); give every annotation a unique id >= 1' });
        }
      }
      seenAnn.add(ann.id);
      if (!coco.imgs.has(ann.image_id)) {
        log.add({ code: 'bad-record', severity: 'error', file: src, record: `annotation id ${ann.id}`,
          message: `image_id ${ann.image_id} is not in "images"` });
      }
    }

    const records: CocoDetectionRecord[] = [];
    for (const img of images) {
      const record = `image id ${img.id}`;
      if (!(Number.isInteger(img.width) && Number.isInteger(img.height) && img.width > 0 && img.height > 0)) {
        log.add({ code: 'bad-record', severity: 'error', file: src, record,
          message: `width/height must be positive integers, got ${briefJson(img.width)}x${briefJson(img.height)} (WxH)` });
        continue;
      }
      if (typeof img.file_name !== 'string' || img.file_name === '') {
        log.add({ code: 'bad-record', severity: 'error', file: src, record, message: 'no file_name' });
        continue;
      }
      const W = img.width;
      const H = img.height;
      const boxes: number[] = [];
      const labels: number[] = [];
      const crowd: number[] = [];
      const annIds: number[] = [];
      for (const ann of coco.imgToAnns.get(img.id) ?? []) {
        const arec = `annotation id ${ann.id} (image id ${img.id})`;
        const label = this.catToLabel.get(ann.category_id);
        if (label === undefined) {
          log.add({ code: 'unknown-class', severity: 'error', file: src, record: arec,
            message: `category_id ${ann.category_id} is not in "categories"` });
          continue;
        }
        const isCrowd = ann.iscrowd ? 1 : 0;
        if (isCrowd && opts.dropCrowd) continue;
        const bb = ann.bbox;
        if (!Array.isArray(bb) || bb.length !== 4 || !bb.every((v) => typeof v === 'number' && Number.isFinite(v)) || bb[2] < 0 || bb[3] < 0) {
          log.add({ code: 'bad-record', severity: 'error', file: src, record: arec,
            message: `bbox must be [x, y, w, h] with finite numbers and w, h >= 0, got ${briefJson(bb)}` });
          continue;
        }
        const raw = [bb[0], bb[1], bb[0] + bb[2], bb[1] + bb[3]];
        const xyxy = [Math.min(Math.max(raw[0], 0), W), Math.min(Math.max(raw[1], 0), H),
          Math.min(Math.max(raw[2], 0), W), Math.min(Math.max(raw[3], 0), H)];
        if (!(xyxy[2] > xyxy[0] && xyxy[3] > xyxy[1])) {
          log.add({ code: 'degenerate-box', severity: 'warning', file: src, record: arec,
            message: `bbox ${JSON.stringify(bb)} has no area inside the ${W}x${H} (WxH) image; dropped` });
          continue;
        }
        if (xyxy.some((v, i) => v !== raw[i])) {
          log.add({ code: 'box-outside-image', severity: 'warning', file: src, record: arec,
            message: `bbox ${JSON.stringify(bb)} reaches outside the ${W}x${H} (WxH) image; clipped` });
        }
        boxes.push(...xyxy);
        labels.push(label);
        crowd.push(isCrowd);
        annIds.push(ann.id);
      }
      if (opts.filterEmpty && !crowd.some((c) => c === 0)) continue;
      records.push({
        file: path.resolve(this.imageRoot, img.file_name),
        imageId: img.id,
        height: H,
        width: W,
        target: { boxes: Float32Array.from(boxes), labels: Int32Array.from(labels), iscrowd: Uint8Array.from(crowd) },
        source: src,
        annotationIds: annIds,
      });
    }
    this.records = records;
    this.issues = log.issues;
  }

  /**
   * Load an instances file and its image folder.
   * @param annotationFile - `instances_*.json`.
   * @param imageRoot - the image folder (`file_name` is relative to it).
   * @throws when the file cannot be read or parsed (naming it), and the constructor's errors.
   */
  static fromFile(annotationFile: string, imageRoot: string, opts: CocoDetectionOptions = {}): CocoDetection {
    return new CocoDetection(Coco.fromFile(annotationFile), imageRoot, opts);
  }

  /** Number of records. */
  get length(): number {
    return this.records.length;
  }

  /** K, the number of categories (background not counted). */
  get numClasses(): number {
    return this.labelToCategoryId.length;
  }

  /**
   * The contiguous label of a COCO category id.
   * @throws when the id is not a category of this file.
   */
  categoryIdToLabel(categoryId: number): number {
    const l = this.catToLabel.get(categoryId);
    if (l === undefined) throw new Error(`${this.coco.source}: category_id ${categoryId} is not in "categories"`);
    return l;
  }

  /**
   * Binary masks of record `index`'s instances (polygons, uncompressed or compressed RLE → mask via the COCO mask
   * API), aligned with its target's boxes.
   * @returns `[M * H * W]` uint8 in {0, 1}, row-major per instance (`masks[(m * H + y) * W + x]`), H, W of the
   * image as in the JSON; a new array.
   * @throws naming the annotation id when its segmentation is missing or malformed, or its RLE size differs from the
   * image's.
   * Reference: pycocotools `COCO.annToMask` (column-major there; transposed here to row-major).
   */
  instanceMasks(index: number): { masks: Uint8Array; height: number; width: number } {
    const r = this.records[index];
    if (!r) throw new RangeError(`COCO '${this.coco.source}': index ${index} outside 0..${this.records.length - 1}`);
    const H = r.height;
    const W = r.width;
    const out = new Uint8Array(r.annotationIds.length * H * W);
    r.annotationIds.forEach((annId, m) => {
      const ann = this.coco.anns.get(annId) as CocoAnnotationJson;
      const rle = this.coco.annToRle(ann);
      if (rle.h !== H || rle.w !== W) {
        throw new Error(`${this.coco.source}: annotation id ${annId} (image id ${r.imageId}): segmentation size ` +
          `${rle.h}x${rle.w} (HxW) differs from the image's ${H}x${W}`);
      }
      const colMajor = rleDecode(rle); // [W * H], x * H + y
      const base = m * H * W;
      for (let x = 0; x < W; x++) {
        const col = x * H;
        for (let y = 0; y < H; y++) out[base + y * W + x] = colMajor[col + y];
      }
    });
    return { masks: out, height: H, width: W };
  }

  /** This dataset as a `MapDataset`: `get(i, rng) = transform(records[i], rng)`. */
  dataset(transform: DetectionTransform): MapDataset<DetectionSample<Float32Array>> {
    return {
      length: this.records.length,
      get: (index: number, rng: SeedSequence) => {
        const r = this.records[index];
        if (!r) return Promise.reject(new RangeError(`COCO '${this.coco.source}': index ${index} outside 0..${this.records.length - 1}`));
        return transform(r, rng);
      },
    };
  }
}
