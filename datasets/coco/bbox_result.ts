/**
 * The bbox result record `loadRes` builds, and the box copy evaluation reads, in a module without file I/O so that the
 * evaluator (and the portable `resvision/core` entry) does not pull in the file loader of `coco.ts`.
 *
 * Reference: pycocotools `PythonAPI/pycocotools/coco.py` (`loadRes`).
 */
import type { CocoAnnotationJson, CocoSegmentationJson } from './types';

// ---- DIFFERENCE FROM PYCOCOTOOLS: a bbox result's box polygon (and, read from a file, its box) is made when first read ----
// pycocotools' `loadRes` stores `[[x1,y1, x1,y2, x2,y2, x2,y1]]` in every bbox result. bbox evaluation never reads it,
// and making two arrays per record was a third of the time to load 250,000 results. Here `segmentation` is an
// accessor: the first read makes the same polygon (and keeps it), it can be assigned, and `JSON.stringify` writes
// it; only `Object.keys` and object spread do not list it. Records read from a file into columns
// (`results_json.ts`) keep `bbox` the same way, in one Float64Array for all records; evaluation copies it from
// there (`copyAnnotationBox`).
/** A bbox result record as `loadRes` fills it in: `area = w*h`, `iscrowd = 0`, the box polygon as segmentation. */
export class BboxResultAnnotation implements CocoAnnotationJson {
  [key: string]: unknown;
  #segmentation: CocoSegmentationJson | undefined;
  /** The box as given, or undefined until read when it is row `row` of `boxes` (`[N, 4]` xywh). */
  #bbox: number[] | undefined;
  readonly #boxes: Float64Array | undefined;
  readonly #row: number;
  constructor(
    public id: number,
    public image_id: number,
    public category_id: number,
    bbox: number[] | { boxes: Float64Array; row: number },
    public score: number,
    public area: number,
    public iscrowd: number,
    segmentation: CocoSegmentationJson | undefined,
  ) {
    if (Array.isArray(bbox)) {
      this.#bbox = bbox;
      this.#row = -1;
    } else {
      this.#boxes = bbox.boxes;
      this.#row = bbox.row;
    }
    this.#segmentation = segmentation;
  }

  /** `[x, y, w, h]`; for a record read into columns, made when first read (then kept). */
  get bbox(): number[] {
    if (this.#bbox === undefined) {
      const b = this.#boxes as Float64Array;
      const r = this.#row * 4;
      this.#bbox = [b[r], b[r + 1], b[r + 2], b[r + 3]];
    }
    return this.#bbox;
  }

  set bbox(v: number[]) {
    this.#bbox = v;
  }

  /** Copies the box into `out[at..at+4)` without making the array. */
  copyBox(out: Float64Array, at: number): void {
    if (this.#bbox === undefined) {
      const b = this.#boxes as Float64Array;
      const r = this.#row * 4;
      out[at] = b[r];
      out[at + 1] = b[r + 1];
      out[at + 2] = b[r + 2];
      out[at + 3] = b[r + 3];
    } else {
      const bb = this.#bbox;
      out[at] = bb[0];
      out[at + 1] = bb[1];
      out[at + 2] = bb[2];
      out[at + 3] = bb[3];
    }
  }

  get segmentation(): CocoSegmentationJson {
    if (this.#segmentation === undefined) {
      const bb = this.bbox;
      const x1 = bb[0];
      const x2 = bb[0] + bb[2];
      const y1 = bb[1];
      const y2 = bb[1] + bb[3];
      this.#segmentation = [[x1, y1, x1, y2, x2, y2, x2, y1]];
    }
    return this.#segmentation;
  }

  set segmentation(v: CocoSegmentationJson) {
    this.#segmentation = v;
  }

  toJSON(): CocoAnnotationJson {
    const { id, image_id, category_id, bbox, score, area, iscrowd } = this;
    return { id, image_id, category_id, bbox, score, area, iscrowd, segmentation: this.segmentation };
  }
}
// ---- END DIFFERENCE ----

/**
 * Copies annotation `a`'s `[x, y, w, h]` into `out[at..at+4)`; a results record read into columns is copied without
 * making its `bbox` array.
 * @returns false when `a.bbox` is not an array of 4 numbers (nothing is written then).
 */
export function copyAnnotationBox(a: CocoAnnotationJson, out: Float64Array, at: number): boolean {
  if (a instanceof BboxResultAnnotation) {
    a.copyBox(out, at);
    return true;
  }
  const bb = a.bbox;
  if (!Array.isArray(bb) || bb.length !== 4 || !bb.every((v) => typeof v === 'number')) return false;
  out[at] = bb[0];
  out[at + 1] = bb[1];
  out[at + 2] = bb[2];
  out[at + 3] = bb[3];
  return true;
}
