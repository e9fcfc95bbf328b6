/**
 * COCO API: loads an instances ground-truth file, indexes images, categories and annotations, and loads detection
 * results with pycocotools' `loadRes` semantics.
 *
 * Reference: pycocotools `PythonAPI/pycocotools/coco.py` (class `COCO`). Differences, all on input pycocotools
 * would crash on or silently misuse: results are validated record by record (type, finite box values, known image
 * and category, segmentation size equal to its image's) and the errors name the record index and the field; input
 * objects are never modified (pycocotools writes `id`, `area`, ... into them). Input pycocotools evaluates in a
 * surprising way is evaluated its way and reported in {@link Coco.warnings}: annotation id 0 or repeated ids, a
 * missing `iscrowd` (a KeyError there; 0 here), an empty results list (an IndexError there; no detections here),
 * boxes with a width or height <= 0 and boxes far past their image (likely xyxy written as xywh).
 */

import * as fs from 'node:fs';

import { rleArea, rleFrBbox, rleFromJson, rleFrPoly, rleMerge, rleToBbox, type Rle } from './mask_api';
import { readBboxResultColumns, type BboxResultColumns } from './results_json';
import type {
  CocoAnnotationJson,
  CocoCategoryJson,
  CocoDatasetJson,
  CocoImageJson,
  CocoResultJson,
  CocoRleJson,
  CocoSegmentationJson,
} from './types';
import { briefJson } from '../brief_json';
import { BboxResultAnnotation } from './bbox_result';

export { copyAnnotationBox } from './bbox_result';

/** Filters of {@link Coco.getAnnIds}; an empty or missing filter is skipped, as in pycocotools. */
export interface AnnIdFilter {
  imgIds?: readonly number[];
  catIds?: readonly number[];
  /** `[min, max)` on `area`, pixels². */
  areaRng?: readonly [number, number];
  iscrowd?: boolean;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * Whether a polygon coordinate lies within `[-margin, size + margin]`: the image extended by `margin` pixels (its
 * larger side) on both ends. Points that far out change nothing a sane annotation needs, and the bound keeps
 * `rleFrPoly`'s work (one point per 1/5 pixel of outline) proportional to the image size.
 */
function polygonCoordinateInBounds(v: number, size: number, margin: number): boolean {
  return v >= -margin && v <= size + margin;
}

/** Whether an image side is usable as a mask size: an integer in 0..2^31-1 (maskApi.c's `siz`). */
function isImageSide(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 2 ** 31 - 1;
}

/** How many ids a message lists before "...". */
const IDS_SHOWN = 5;

/** Annotations whose id pycocotools mishandles: id 0 (never a match) or an id shared with another annotation. */
export interface AnnotationIdProblems {
  /** Annotations with id 0 or with an id that another annotation also has. */
  count: number;
  /** The distinct offending ids in file order. */
  ids: number[];
}

/**
 * Finds annotation ids that make pycocotools' numbers differ from a file with unique ids: `COCO.anns` is a dict by
 * id (the last annotation with an id wins, and `COCOeval._prepare` loads annotations by id, so a repeated id
 * evaluates the last box several times), and `accumulate` reads a matched ground-truth id of 0 as "unmatched".
 * @param annotations the `annotations` of a dataset.
 * @returns the count and the distinct ids (both 0 / empty when every id is unique and non-zero).
 * Reference: pycocotools `coco.py` `createIndex`, `loadAnns`; `cocoeval.py` `evaluateImg`, `accumulate` (`dtm == 0`).
 */
export function findAnnotationIdProblems(annotations: readonly CocoAnnotationJson[]): AnnotationIdProblems {
  const seen = new Map<number, number>();
  for (const a of annotations) seen.set(a.id, (seen.get(a.id) ?? 0) + 1);
  let count = 0;
  const ids: number[] = [];
  for (const [id, n] of seen) {
    if (id === 0 || n > 1) {
      count += n;
      ids.push(id);
    }
  }
  return { count, ids };
}

/**
 * The one-line warning about {@link findAnnotationIdProblems}, or undefined when there is nothing to say.
 * @param source the annotation file, named in the line.
 */
export function annotationIdWarning(source: string, annotations: readonly CocoAnnotationJson[]): string | undefined {
  const { count, ids } = findAnnotationIdProblems(annotations);
  if (count === 0) return undefined;
  const shown = ids.slice(0, IDS_SHOWN).join(', ') + (ids.length > IDS_SHOWN ? ', ...' : '');
  return `${source}: ${count} annotation(s) have id 0 or an id another annotation also has (ids ${shown}); ` +
    'the numbers follow pycocotools, which keeps only the last annotation of each id and never counts a match to id 0, ' +
    'so they differ from those of the same file with unique ids; fix the file: give every annotation a unique id >= 1 ' +
    '(e.g. renumber them 1..N)';
}

/**
 * Reads a JSON file. The bytes are read, then decoded: on Node 20, `readFileSync(path, 'utf8')` decodes several
 * times slower than `Buffer#toString('utf8')`, which gives the same string.
 */
function readJsonFile(path: string): unknown {
  return JSON.parse(fs.readFileSync(path).toString('utf8'));
}

/** `key(item)` → the `value(item)` of every item with that key, in the items' order (a pycocotools `defaultdict(list)` index). */
function groupBy<T, V>(items: readonly T[], key: (item: T) => number, value: (item: T) => V): Map<number, V[]> {
  const index = new Map<number, V[]>();
  for (const item of items) {
    const k = key(item);
    let list = index.get(k);
    if (!list) index.set(k, (list = []));
    list.push(value(item));
  }
  return index;
}

/** Passed by `loadRes` to the constructor for records it has built and checked itself. */
const BUILT_BY_LOAD_RES = Symbol('built by loadRes');

/** The two box warnings of `loadRes` (boxes with a side <= 0; boxes past their image), counted record by record. */
class BoxWarnings {
  private nonPositive = 0;
  private firstNonPositive = '';
  private pastImage = 0;
  private firstPastImage = '';

  /** Counts record `i`'s box `[x, y, w, h]` on its image. */
  check(i: number, x: number, y: number, w: number, h: number, img: CocoImageJson): void {
    if (!(w > 0 && h > 0)) {
      const bb = [x, y, w, h];
      if (this.nonPositive++ === 0) {
        const side = bb[2] <= 0 ? `${bb[2] < 0 ? 'negative' : 'zero'} width` : `${bb[3] < 0 ? 'negative' : 'zero'} height`;
        this.firstNonPositive = `results[${i}].bbox has a ${side}: ${JSON.stringify(bb)}`;
      }
    }
    // Only a numeric size can be compared (a malformed one is the ground truth's defect, reported where it is used).
    if (typeof img.width !== 'number' || typeof img.height !== 'number') return;
    if (x + w > img.width + 1 || y + h > img.height + 1) {
      if (this.pastImage++ === 0) this.firstPastImage = `results[${i}].bbox ${JSON.stringify([x, y, w, h])} on the ${img.width}x${img.height} image ${img.id}`;
    }
  }

  /** Adds the warning lines to `out.warnings`, for `n` records from `source`. */
  report(out: Coco, source: string, n: number): void {
    if (this.nonPositive > 0) {
      out.warnings.push(`${source}: ${this.nonPositive} of ${n} boxes have a width or height <= 0 (first: ${this.firstNonPositive}); ` +
        'evaluated as pycocotools does, without normalising them: IoU 0 with every ground truth. Likely cause: boxes ' +
        'converted to [x, y, w, h] twice, or corners swapped; COCO results hold [x, y, width, height] (xywh)');
    }
    if (this.pastImage > 0 && this.pastImage >= 0.1 * n) {
      out.warnings.push(`${source}: ${this.pastImage} of ${n} boxes run more than 1 pixel past their image's right or bottom ` +
        `edge (first: ${this.firstPastImage}). Likely cause: boxes written as [x1, y1, x2, y2] (xyxy); COCO results hold ` +
        '[x, y, width, height] (xywh). Evaluated as written');
    }
  }
}

/**
 * Bbox results held as columns (`[N]`, or `[N, 4]` row-major for `bbox`: x, y, w, h in pixels), row `r` being the
 * record with id `r + 1`; `area` is `w * h`, as `loadRes` fills it in.
 */
export interface BboxResultTable extends BboxResultColumns {
  area: Float64Array;
}

/** A loaded COCO dataset (ground truth or results) with its indexes. */
export class Coco {
  /** The dataset as loaded (annotations of a results object are the filled-in records). Not copied. */
  readonly dataset: CocoDatasetJson;
  private annsById?: Map<number, CocoAnnotationJson>;
  private catToImgsIndex?: Map<number, number[]>;
  private imgToAnnsIndex?: Map<number, CocoAnnotationJson[]>;
  /** Results not yet made into records (see {@link Coco.resultTable}). */
  private table?: BboxResultTable;
  /** Whether every annotation id is unique and non-zero (then an annotation looked up by its id is itself). */
  readonly uniqueAnnotationIds: boolean;
  /** Image id → image. */
  readonly imgs = new Map<number, CocoImageJson>();
  /** Category id → category. */
  readonly cats = new Map<number, CocoCategoryJson>();
  /** Where the dataset came from, used in error messages. */
  readonly source: string;
  /** Where `images` came from (the ground-truth file for results), so image defects are not blamed on results. */
  readonly imagesSource: string;
  /**
   * Input evaluated the way pycocotools evaluates it although it is probably a mistake, one line each (file named):
   * annotation id 0 or repeated ids, annotations without `iscrowd`; for results, an empty list, boxes with a width or
   * height <= 0, many boxes past their image. Callers print them.
   */
  readonly warnings: string[] = [];

  /**
   * Indexes a dataset (pycocotools `COCO.createIndex`).
   * @param dataset an instances object; kept by reference, not modified.
   * @param source a name for error messages (a file path).
   * @param imagesSource where `images` came from, when not from `source` (results share the ground truth's).
   * @param builtByLoadRes internal: the annotations are records `loadRes` made (ids 1..N, fields checked).
   * @throws if `images`, `annotations` or `categories` is present but not an array, or a record is not an object
   *   with a numeric `id` (and `image_id`, `category_id` for annotations).
   */
  constructor(dataset: CocoDatasetJson, source = '<memory>', imagesSource = source, builtByLoadRes?: typeof BUILT_BY_LOAD_RES) {
    if (!isObject(dataset)) {
      const got = Array.isArray(dataset) ? 'an array (a results list? the ground truth is the instances object)' : briefJson(dataset);
      throw new Error(`${source}: annotation file must hold a JSON object {images, annotations, categories}, got ${got}`);
    }
    this.source = source;
    this.imagesSource = imagesSource;
    for (const key of ['images', 'annotations', 'categories'] as const) {
      const v = (dataset as unknown as Record<string, unknown>)[key];
      if (v !== undefined && !Array.isArray(v)) throw new Error(`${source}: "${key}" must be an array`);
    }
    this.dataset = {
      ...dataset,
      images: dataset.images ?? [],
      annotations: dataset.annotations ?? [],
      categories: dataset.categories ?? [],
    };
    const { images, annotations, categories } = this.dataset;
    let noCrowdFlag = 0;
    let idProblems = false;
    if (builtByLoadRes !== BUILT_BY_LOAD_RES) {
      // (records built by loadRes have ids 1..N and checked fields: their indexes are made on first use)
      const anns = new Map<number, CocoAnnotationJson>();
      this.annsById = anns;
      const imgToAnns = new Map<number, CocoAnnotationJson[]>();
      this.imgToAnnsIndex = imgToAnns;
      for (let i = 0; i < annotations.length; i++) {
        const ann = annotations[i];
        if (!isObject(ann)) throw new Error(`${source}: annotations[${i}] is not an object`);
        if (!(isFiniteNumber(ann.id) && isFiniteNumber(ann.image_id) && isFiniteNumber(ann.category_id))) {
          for (const f of ['id', 'image_id', 'category_id'] as const) {
            if (!isFiniteNumber(ann[f])) throw new Error(`${source}: annotations[${i}].${f} must be a number, got ${briefJson(ann[f])}`);
          }
        }
        if (ann.iscrowd === undefined) noCrowdFlag++;
        let list = imgToAnns.get(ann.image_id);
        if (!list) imgToAnns.set(ann.image_id, (list = []));
        list.push(ann);
        if (ann.id === 0 || anns.has(ann.id)) idProblems = true;
        anns.set(ann.id, ann);
      }
    }
    this.uniqueAnnotationIds = !idProblems;
    for (let i = 0; i < images.length; i++) {
      const img = images[i];
      if (!isObject(img) || !isFiniteNumber(img.id)) throw new Error(`${source}: images[${i}].id must be a number`);
      this.imgs.set(img.id, img);
    }
    for (let i = 0; i < categories.length; i++) {
      const cat = categories[i];
      if (!isObject(cat) || !isFiniteNumber(cat.id)) throw new Error(`${source}: categories[${i}].id must be a number`);
      this.cats.set(cat.id, cat);
    }
    if (dataset.annotations === undefined || dataset.categories === undefined) this.catToImgsIndex = new Map();
    if (idProblems) this.warnings.push(annotationIdWarning(source, annotations) as string);
    if (noCrowdFlag > 0) {
      this.warnings.push(`${source}: ${noCrowdFlag} of ${annotations.length} annotation(s) have no "iscrowd"; taken as 0 ` +
        '(not a crowd region); pycocotools stops with a KeyError on such a file');
    }
  }

  /** Image id → its annotations, in file order (pycocotools `imgToAnns`). */
  get imgToAnns(): Map<number, CocoAnnotationJson[]> {
    if (!this.imgToAnnsIndex) this.imgToAnnsIndex = groupBy(this.dataset.annotations, (a) => a.image_id, (a) => a);
    return this.imgToAnnsIndex;
  }

  /**
   * The detections as columns, for results that `loadRes` read from a plain bbox results file (records of exactly
   * `image_id`, `category_id`, `bbox`, `score`), as long as their records have not been made; the evaluation then
   * reads the columns instead of 250,000 objects. The records (`dataset.annotations`, and through it `anns`,
   * `imgToAnns`, `getAnnIds`, ...) are made on first read, with the same values; from then on they are the data
   * (changes to them count) and this is undefined. Undefined for a ground truth and other results.
   */
  get resultTable(): BboxResultTable | undefined {
    return this.table;
  }

  /** Makes `dataset.annotations` the lazily made records of `table` (see {@link Coco.resultTable}). */
  private holdResultTable(table: BboxResultTable): void {
    this.table = table;
    const dataset = this.dataset;
    const settle = (annotations: CocoAnnotationJson[]): void => {
      Object.defineProperty(dataset, 'annotations', { value: annotations, writable: true, enumerable: true, configurable: true });
      this.table = undefined;
    };
    Object.defineProperty(dataset, 'annotations', {
      enumerable: true,
      configurable: true,
      get: (): CocoAnnotationJson[] => {
        const n = table.imageId.length;
        const anns: CocoAnnotationJson[] = new Array(n);
        for (let i = 0; i < n; i++) {
          anns[i] = new BboxResultAnnotation(i + 1, table.imageId[i], table.categoryId[i], { boxes: table.bbox, row: i }, table.score[i], table.area[i], 0, undefined);
        }
        settle(anns);
        return anns;
      },
      set: settle,
    });
  }

  /** Annotation id → annotation; for a repeated id, the last annotation with it (pycocotools' dict). */
  get anns(): Map<number, CocoAnnotationJson> {
    if (!this.annsById) {
      const anns = new Map<number, CocoAnnotationJson>();
      for (const ann of this.dataset.annotations) anns.set(ann.id, ann);
      this.annsById = anns;
    }
    return this.annsById;
  }

  /** Category id → image id of each of its annotations, in file order (with repeats, as pycocotools). */
  get catToImgs(): Map<number, number[]> {
    if (!this.catToImgsIndex) this.catToImgsIndex = groupBy(this.dataset.annotations, (a) => a.category_id, (a) => a.image_id);
    return this.catToImgsIndex;
  }

  /**
   * Loads an instances JSON file.
   * @param path file path.
   * @throws if the file cannot be read or parsed (the message names the file) or fails the checks of the constructor.
   */
  static fromFile(path: string): Coco {
    let data: unknown;
    try {
      data = readJsonFile(path);
    } catch (e) {
      throw new Error(`${path}: cannot read COCO annotation file: ${(e as Error).message}`);
    }
    return new Coco(data as CocoDatasetJson, path);
  }

  /**
   * Ids of annotations that pass all given filters (pycocotools `getAnnIds`): with `imgIds`, annotations are
   * taken image by image in the given order; otherwise in file order.
   */
  getAnnIds(filter: AnnIdFilter = {}): number[] {
    const imgIds = filter.imgIds ?? [];
    const catIds = filter.catIds ?? [];
    const areaRng = filter.areaRng ?? [];
    let anns: CocoAnnotationJson[];
    if (imgIds.length === 0 && catIds.length === 0 && areaRng.length === 0) {
      anns = this.dataset.annotations;
    } else {
      if (imgIds.length !== 0) {
        anns = [];
        for (const id of imgIds) {
          const list = this.imgToAnns.get(id);
          if (list) for (const a of list) anns.push(a);
        }
      } else {
        anns = this.dataset.annotations;
      }
      if (catIds.length !== 0) {
        const set = new Set(catIds);
        anns = anns.filter((a) => set.has(a.category_id));
      }
      if (areaRng.length !== 0) {
        anns = anns.filter((a) => (a.area as number) >= areaRng[0] && (a.area as number) < areaRng[1]);
      }
    }
    if (filter.iscrowd !== undefined) {
      const want = filter.iscrowd ? 1 : 0;
      return anns.filter((a) => (a.iscrowd ? 1 : 0) === want).map((a) => a.id);
    }
    return anns.map((a) => a.id);
  }

  /** Ids of categories (pycocotools `getCatIds`), in file order, optionally filtered by name, supercategory, id. */
  getCatIds(filter: { catNms?: readonly string[]; supNms?: readonly string[]; catIds?: readonly number[] } = {}): number[] {
    let cats = this.dataset.categories;
    if (filter.catNms?.length) cats = cats.filter((c) => filter.catNms!.includes(c.name as string));
    if (filter.supNms?.length) cats = cats.filter((c) => filter.supNms!.includes(c.supercategory as string));
    if (filter.catIds?.length) cats = cats.filter((c) => filter.catIds!.includes(c.id));
    return cats.map((c) => c.id);
  }

  /**
   * Ids of images (pycocotools `getImgIds`): all images in file order, or the given ids restricted to images that
   * hold every given category.
   */
  getImgIds(filter: { imgIds?: readonly number[]; catIds?: readonly number[] } = {}): number[] {
    const imgIds = filter.imgIds ?? [];
    const catIds = filter.catIds ?? [];
    if (imgIds.length === 0 && catIds.length === 0) return [...this.imgs.keys()];
    let ids = new Set(imgIds);
    catIds.forEach((catId, i) => {
      const withCat = new Set(this.catToImgs.get(catId) ?? []);
      if (i === 0 && ids.size === 0) ids = withCat;
      else ids = new Set([...ids].filter((id) => withCat.has(id)));
    });
    return [...ids];
  }

  /** Annotations with the given ids. @throws if an id is unknown. */
  loadAnns(ids: readonly number[]): CocoAnnotationJson[] {
    return ids.map((id) => {
      const a = this.anns.get(id);
      if (!a) throw new Error(`${this.source}: no annotation with id ${id}`);
      return a;
    });
  }

  /** Categories with the given ids. @throws if an id is unknown. */
  loadCats(ids: readonly number[]): CocoCategoryJson[] {
    return ids.map((id) => {
      const c = this.cats.get(id);
      if (!c) throw new Error(`${this.source}: no category with id ${id}`);
      return c;
    });
  }

  /** Images with the given ids. @throws if an id is unknown. */
  loadImgs(ids: readonly number[]): CocoImageJson[] {
    return ids.map((id) => {
      const c = this.imgs.get(id);
      if (!c) throw new Error(`${this.source}: no image with id ${id}`);
      return c;
    });
  }

  /**
   * The annotation's segmentation as one RLE (pycocotools `annToRLE`): polygons are rasterized with `rleFrPoly`
   * at the image's size and merged (union); a list whose first element has exactly 4 numbers is read as boxes, as
   * `frPyObjects` does; uncompressed RLE keeps its own size; compressed RLE is parsed.
   * @param ann an annotation of this dataset.
   * @returns a new RLE.
   * @throws naming the annotation and image ids if the image is unknown, or the segmentation is missing or malformed:
   *   a polygon coordinate farther than max(width, height) outside the image (the rasteriser's work grows with the
   *   outline's length), RLE counts that do not sum to height*width (the RLE loops would not end). An image without
   *   integer height/width is named with the file that holds the images.
   */
  annToRle(ann: CocoAnnotationJson): Rle {
    const where = `${this.source}: annotation id ${ann.id} (image id ${ann.image_id})`;
    const segm = ann.segmentation;
    if (segm === undefined || segm === null) throw new Error(`${where}: no segmentation`);
    if (Array.isArray(segm)) {
      const img = this.imgs.get(ann.image_id);
      if (!img) throw new Error(`${where}: image_id ${ann.image_id} is not in the images list`);
      const h = img.height;
      const w = img.width;
      if (!isImageSide(h) || !isImageSide(w)) {
        throw new Error(`${this.imagesSource}: image id ${img.id}: height/width must be integers in 0..2^31-1, got ` +
          `${briefJson(h)}/${briefJson(w)}`);
      }
      if (segm.length === 0) throw new Error(`${where}: segmentation is an empty polygon list`);
      for (let i = 0; i < segm.length; i++) {
        const poly = segm[i];
        if (!Array.isArray(poly) || !poly.every(isFiniteNumber)) {
          throw new Error(`${where}: segmentation[${i}] must be a list of finite numbers`);
        }
        // rleFrPoly traces the outline point by point on a 5x grid: bound that work by the image size.
        const m = Math.max(w, h);
        const bad = poly.findIndex((v, j) => !polygonCoordinateInBounds(v, j % 2 === 0 ? w : h, m));
        if (bad >= 0) {
          const [axis, size] = bad % 2 === 0 ? ['x', w] : ['y', h];
          throw new Error(`${where}: segmentation[${i}][${bad}] = ${poly[bad]} (${axis}) lies far outside the ${w}x${h} (WxH) ` +
            `image (polygon coordinates must be within ${-m}..${size + m}); fix the annotation`);
        }
      }
      const asBoxes = segm[0].length === 4;
      const parts = segm.map((p) => (asBoxes ? rleFrBbox(p, h, w) : rleFrPoly(p, h, w)));
      return rleMerge(parts, false);
    }
    if (!isObject(segm)) throw new Error(`${where}: segmentation must be polygons or an RLE object`);
    let rle: Rle;
    try {
      rle = rleFromJson(segm as CocoRleJson);
    } catch (e) {
      throw new Error(`${where}: segmentation: ${(e as Error).message}`);
    }
    // The RLE loops of maskApi.c (merge, IoU) stop only when both count lists are used up at the same pixel:
    // counts that do not cover height*width exactly would never finish.
    let total = 0;
    for (let j = 0; j < rle.counts.length; j++) total += rle.counts[j];
    if (total !== rle.h * rle.w) {
      throw new Error(`${where}: segmentation RLE counts sum to ${total}, expected height*width = ` +
        `${rle.h}*${rle.w} = ${rle.h * rle.w}`);
    }
    return rle;
  }

  /**
   * Loads detection results against this ground truth (pycocotools `loadRes`). The kind is decided by the first
   * record, as there: with a non-empty `bbox`, every record gets `area = w*h`, `iscrowd = 0` and, if it has no
   * segmentation, the box polygon `[[x1,y1, x1,y2, x2,y2, x2,y1]]` (made when first read); with `segmentation` (RLE), `area` and (if
   * absent) `bbox` come from the RLE. Ids are 1..N in record order.
   * Evaluated as pycocotools evaluates them, with a line in `warnings` of the returned object: an empty list (no
   * detections; pycocotools stops with an IndexError), boxes with a width or height <= 0 (kept as written: their
   * IoU is 0 with everything and their area `w*h` may be negative, as pycocotools computes it), and at least 10% of
   * the boxes running more than 1 pixel past their image's right or bottom edge (likely xyxy written as xywh).
   * @param results an array of result records, or a path to a JSON file holding one.
   * @returns a new `Coco` sharing this dataset's images and a copy of its categories.
   * @throws naming the record index and field: a record that is not an object, a `category_id` not in the ground
   *   truth's categories, a missing or non-finite `score`, a box that is not 4 finite numbers, a segmentation that is
   *   not an RLE or whose size differs from its image's; one error listing every `image_id` not in the ground truth
   *   (count and the first ten, saying so when they are strings and the ground truth's are numbers); also keypoint
   *   and caption results, which are not supported.
   * Records are copied with the fields the evaluation uses (`image_id`, `category_id`, `bbox`, `score`,
   * `segmentation`) plus the filled-in ones; other fields are not carried over, and the input is not modified.
   */
  loadRes(results: unknown): Coco {
    let source = '<results>';
    if (typeof results === 'string') {
      source = results;
      try {
        const bytes = fs.readFileSync(results);
        const columns = readBboxResultColumns(bytes);
        const fast = columns && this.loadResBboxColumns(columns, source);
        if (fast) return fast;
        results = JSON.parse(bytes.toString('utf8'));
      } catch (e) {
        throw new Error(`${source}: cannot read results file: ${(e as Error).message}`);
      }
    }
    if (!Array.isArray(results)) {
      const gtLike = isObject(results) && 'annotations' in results && 'images' in results;
      throw new Error(`${source}: results must be an array of objects, got ` +
        (gtLike ? 'an instances object with "images" and "annotations" (a ground-truth file: are the two files swapped?)' : briefJson(results)));
    }
    let categories: CocoCategoryJson[];
    try {
      categories = structuredClone(this.dataset.categories); // pycocotools: copy.deepcopy(self.dataset['categories'])
    } catch (e) {
      throw new Error(`${this.source}: "categories" cannot be copied for the results of '${source}' (${(e as Error).message}; ` +
        'a value nested too deep?); fix the ground truth');
    }
    if (results.length === 0) {
      const empty = new Coco({ images: [...this.dataset.images], categories, annotations: [] }, source, this.imagesSource);
      empty.warnings.push(`${source}: the results list is empty; evaluated as no detections (AP and AR 0 where the ground ` +
        'truth has objects)');
      return empty;
    }
    try {
      return this.loadResRecords(results, source, categories);
    } catch (e) {
      // Record by record, the first fault found is reported; but an image_id unknown to the ground truth (anywhere in
      // the list) says the files do not belong together, which matters more: that check runs first, as in pycocotools.
      this.checkResultImageIds(results, source);
      throw e;
    }
  }

  /**
   * `loadRes` for the columns of a simple bbox results file: the records `loadResRecords` makes from the same
   * values, or null when a record refers to an image or category the ground truth lacks (the general path then
   * reports it).
   */
  private loadResBboxColumns(c: BboxResultColumns, source: string): Coco | null {
    const n = c.imageId.length;
    const area = new Float64Array(n);
    const warn = new BoxWarnings();
    // results usually come image by image: look an image up once per run of records
    let lastImageId = NaN;
    let img: CocoImageJson | undefined;
    let lastCategoryId = NaN;
    for (let i = 0; i < n; i++) {
      const imageId = c.imageId[i];
      if (imageId !== lastImageId) {
        img = this.imgs.get(imageId);
        if (img === undefined) return null;
        lastImageId = imageId;
      }
      const categoryId = c.categoryId[i];
      if (categoryId !== lastCategoryId) {
        if (!this.cats.has(categoryId)) return null;
        lastCategoryId = categoryId;
      }
      const w = c.bbox[i * 4 + 2];
      const h = c.bbox[i * 4 + 3];
      warn.check(i, c.bbox[i * 4], c.bbox[i * 4 + 1], w, h, img as CocoImageJson);
      area[i] = w * h;
    }
    const categories = structuredClone(this.dataset.categories);
    const out = new Coco({ images: [...this.dataset.images], categories, annotations: [] }, source, this.imagesSource, BUILT_BY_LOAD_RES);
    out.holdResultTable({ ...c, area });
    warn.report(out, source, n);
    return out;
  }

  /** `loadRes` for a non-empty array; throws at the first faulty record (image ids are checked as they come). */
  private loadResRecords(results: unknown[], source: string, categories: CocoCategoryJson[]): Coco {
    const first = results[0];
    if (!isObject(first)) throw new Error(`${source}: results[0] is not an object`);
    let kind: 'bbox' | 'segm';
    if ('caption' in first) throw new Error(`${source}: caption results are not supported`);
    else if ('bbox' in first && !(Array.isArray(first.bbox) && first.bbox.length === 0)) kind = 'bbox';
    else if ('segmentation' in first) kind = 'segm';
    else if ('keypoints' in first) throw new Error(`${source}: keypoint results are not supported`);
    else throw new Error(`${source}: results[0] has neither "bbox" nor "segmentation"`);

    const anns: CocoAnnotationJson[] = new Array(results.length);
    const warn = new BoxWarnings();
    for (let i = 0; i < results.length; i++) {
      const r = results[i] as CocoResultJson;
      if (!isObject(r)) throw new Error(`${source}: results[${i}] is not an object`);
      const img = this.imgs.get(r.image_id);
      if (img === undefined || typeof r.image_id !== 'number') throw new Error(`${source}: results[${i}].image_id is not an image of the ground truth`);
      if (!isFiniteNumber(r.category_id)) throw new Error(`${source}: results[${i}].category_id must be a number, got ${briefJson(r.category_id)}`);
      if (!this.cats.has(r.category_id)) {
        if (this.cats.size === 0 || this.catIdsOfAnnotations().has(r.category_id)) {
          throw new Error(`${this.source}: ` + (this.cats.size === 0 ? 'the ground truth has no "categories"'
            : `ground-truth annotations use category_id ${r.category_id}, which its "categories" list lacks`) +
            `; results[${i}] of '${source}' refers to it; fix the ground truth`);
        }
        throw new Error(`${source}: results[${i}].category_id ${r.category_id} is not a category of the ground truth '${this.source}'`);
      }
      if (!isFiniteNumber(r.score)) throw new Error(`${source}: results[${i}].score must be a finite number, got ${briefJson(r.score)}`);
      if (kind === 'bbox') {
        const bb = r.bbox;
        if (!Array.isArray(bb) || bb.length !== 4 || !(isFiniteNumber(bb[0]) && isFiniteNumber(bb[1]) && isFiniteNumber(bb[2]) && isFiniteNumber(bb[3]))) {
          throw new Error(`${source}: results[${i}].bbox must be [x, y, w, h] of 4 finite numbers, got ${briefJson(bb)}`);
        }
        warn.check(i, bb[0], bb[1], bb[2], bb[3], img);
        anns[i] = new BboxResultAnnotation(i + 1, r.image_id, r.category_id, bb, r.score, bb[2] * bb[3], 0, r.segmentation);
      } else {
        const segm = r.segmentation;
        if (!isObject(segm) || !('counts' in segm) || !('size' in segm)) {
          throw new Error(`${source}: results[${i}].segmentation must be an RLE object {size, counts}`);
        }
        let rle: Rle;
        try {
          rle = rleFromJson(segm as CocoRleJson);
        } catch (e) {
          throw new Error(`${source}: results[${i}].segmentation: ${(e as Error).message}`);
        }
        if (!isImageSide(img.height) || !isImageSide(img.width)) {
          throw new Error(`${this.imagesSource}: image id ${img.id}: height/width must be integers in 0..2^31-1, got ` +
            `${briefJson(img.height)}/${briefJson(img.width)} (needed to check results[${i}].segmentation)`);
        }
        if (rle.h !== img.height || rle.w !== img.width) {
          throw new Error(
            `${source}: results[${i}].segmentation.size [${rle.h}, ${rle.w}] differs from image ${img.id}'s [height, width] in '${this.imagesSource}' ` +
              `[${img.height}, ${img.width}]`,
          );
        }
        let total = 0;
        for (let j = 0; j < rle.counts.length; j++) total += rle.counts[j];
        if (total !== rle.h * rle.w) {
          throw new Error(`${source}: results[${i}].segmentation counts sum to ${total}, expected height*width = ${rle.h * rle.w}`);
        }
        anns[i] = {
          id: i + 1,
          image_id: r.image_id,
          category_id: r.category_id,
          bbox: r.bbox === undefined ? rleToBbox(rle) : r.bbox,
          score: r.score,
          area: rleArea(rle),
          iscrowd: 0,
          segmentation: segm as CocoRleJson,
        };
      }
    }
    const out = new Coco({ images: [...this.dataset.images], categories, annotations: anns }, source, this.imagesSource, BUILT_BY_LOAD_RES);
    warn.report(out, source, results.length);
    return out;
  }

  /** Category ids used by this dataset's annotations. */
  private catIdsOfAnnotations(): Set<number> {
    return new Set(this.dataset.annotations.map((a) => a.category_id));
  }

  /**
   * pycocotools' `assert set(annsImgIds) == (set(annsImgIds) & set(self.getImgIds()))`, with a message that lists
   * every offender: the count of records, the distinct ids (first ten), and whether they are strings standing for
   * the ground truth's numbers. When the ground truth itself is at fault (no images, or its own annotations use
   * the missing ids), the message names the ground-truth file first.
   * @throws when a record's `image_id` is not an image of this ground truth, or a record is not an object.
   */
  private checkResultImageIds(results: readonly unknown[], source: string): void {
    let records = 0;
    let firstIndex = -1;
    const unknown: unknown[] = [];
    const seen = new Set<unknown>();
    let strings = 0;
    let stringsKnown = 0;
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      if (!isObject(r)) throw new Error(`${source}: results[${i}] is not an object`);
      const id = r.image_id;
      if (typeof id === 'number' && this.imgs.has(id)) continue;
      if (records++ === 0) firstIndex = i;
      if (typeof id === 'string') {
        strings++;
        if (id.trim() !== '' && this.imgs.has(Number(id))) stringsKnown++;
      }
      if (!seen.has(id)) {
        seen.add(id);
        unknown.push(id);
      }
    }
    if (records === 0) return;
    const shown = unknown.slice(0, 10).map((v) => briefJson(v, 40)).join(', ') + (unknown.length > 10 ? ', ...' : '');
    // A ground truth whose own annotations use image ids its "images" list lacks is the file at fault.
    const orphans = unknown.filter((id) => typeof id === 'number' && this.imgToAnns.has(id));
    if (this.imgs.size === 0 || orphans.length > 0) {
      throw new Error(`${this.source}: ` + (this.imgs.size === 0
        ? 'the ground truth has no "images"'
        : `ground-truth annotations use image ids that its "images" list lacks (${orphans.slice(0, 10).join(', ')}` +
          `${orphans.length > 10 ? ', ...' : ''})`) +
        `; the results '${source}' refer to them (${records} of ${results.length}); fix the ground truth`);
    }
    const firstId = (results[firstIndex] as Record<string, unknown>).image_id;
    let msg = `${source}: results[${firstIndex}].image_id ${briefJson(firstId, 40)} is not in the ground truth ` +
      `'${this.source}'; ${records} of ${results.length} results have such an image_id (${unknown.length} distinct: ${shown}); ` +
      'the results do not correspond to this set';
    if (strings > 0) {
      msg += `; ${strings} of these image_id values are strings` +
        (stringsKnown > 0 ? ` (${stringsKnown} name a ground-truth image as text)` : '') +
        ', but the ground truth\'s ids are numbers: write them as JSON numbers';
    }
    throw new Error(msg);
  }
}
