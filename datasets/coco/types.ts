/**
 * Raw COCO JSON types, with the field names of the COCO format (snake_case, as written in the files).
 *
 * Reference: the COCO data format (https://cocodataset.org/#format-data) and the results format
 * (https://cocodataset.org/#format-results); pycocotools `coco.py` reads the same fields.
 */

/** Run-length encoding as stored in JSON. `counts` is a compressed string (results, gt masks) or a number list
 * (uncompressed RLE, used by COCO for crowd regions). Counts run column-major (Fortran order), starting with 0s. */
export interface CocoRleJson {
  /** `[height, width]` of the mask, pixels. */
  size: [number, number];
  counts: string | number[];
}

/** A polygon list: each polygon is `[x0, y0, x1, y1, ...]` in absolute pixels; several polygons form one object. */
export type CocoPolygonsJson = number[][];

/** Any of the segmentation encodings COCO accepts. */
export type CocoSegmentationJson = CocoPolygonsJson | CocoRleJson;

/** One entry of `images`. */
export interface CocoImageJson {
  id: number;
  width: number;
  height: number;
  file_name?: string;
  [key: string]: unknown;
}

/** One entry of `categories`. */
export interface CocoCategoryJson {
  id: number;
  name?: string;
  supercategory?: string;
  [key: string]: unknown;
}

/** One entry of `annotations` (ground truth), or a result record after `Coco.loadRes` filled it in. */
export interface CocoAnnotationJson {
  id: number;
  image_id: number;
  category_id: number;
  /** `[x, y, w, h]` (xywh), absolute pixels. */
  bbox?: number[];
  /** Object area in pixels² (for ground truth COCO measures it from the mask, not from the box). */
  area?: number;
  /** 1 for a crowd region (matched by intersection over the detection's area only). */
  iscrowd?: number;
  segmentation?: CocoSegmentationJson;
  /** Detection confidence (results only). */
  score?: number;
  /** Present in some ground-truth files; pycocotools' COCOeval overwrites it with `iscrowd` (see cocoeval.ts). */
  ignore?: number;
  [key: string]: unknown;
}

/** The top-level object of an instances file. */
export interface CocoDatasetJson {
  info?: unknown;
  licenses?: unknown;
  images: CocoImageJson[];
  annotations: CocoAnnotationJson[];
  categories: CocoCategoryJson[];
}

/** One record of a results file (`[ {image_id, category_id, bbox|segmentation, score}, ... ]`). */
export interface CocoResultJson {
  image_id: number;
  category_id: number;
  /** `[x, y, w, h]` (xywh), absolute pixels. */
  bbox?: number[];
  segmentation?: CocoSegmentationJson;
  score: number;
  [key: string]: unknown;
}
