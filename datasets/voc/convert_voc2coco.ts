/**
 * Pascal VOC detection → COCO instances JSON, in the form pycocotools' `COCO` reads: image ids and annotation ids
 * from 1 (list order, then object order), category ids from 1 (class list order), `bbox` xywh in 0-based continuous
 * pixels, `area = w * h` (no mask: the box area), `iscrowd = 0`, no `segmentation`.
 *
 * Boxes go through the adapter's conversion (`xml.ts`): VOC `[xmin, ymin, xmax, ymax]` (1-based inclusive) →
 * `[xmin - 1, ymin - 1, xmax, ymax]` → `bbox = [xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1]`. Difficult
 * objects are written as ordinary annotations unless dropped (`dropDifficult`): COCO has no such flag (pycocotools
 * overwrites `ignore` with `iscrowd`), so an evaluation that must skip them should use the VOC evaluator.
 *
 * Reference: pycocotools `coco.py` (fields read by `createIndex`, `loadRes`, `COCOeval`); detectron2
 * `data/datasets/coco.py` `convert_to_coco_dict` (bbox xywh, area from the box when there is no mask).
 */
import * as path from 'path';
import { writeJsonAtomic } from '../../src/common/atomic_write';
import type { CocoDatasetJson } from '../coco/types';
import { scanVocDetection, type VocDetectionOptions } from './detection';

/**
 * Build the COCO instances object of a VOC split.
 * @param root - VOC root.
 * @param opts - layout, split, class list and box handling, as `scanVocDetection`.
 * @returns a new object: `info`, `licenses` (empty), `images` ({id, file_name relative to the image folder,
 * width, height}), `annotations` ({id, image_id, category_id, bbox, area, iscrowd}), `categories`
 * ({id, name, supercategory: 'none'}).
 * @throws the errors of `scanVocDetection` (naming the file and object).
 */
export async function vocToCoco(root: string, opts: VocDetectionOptions = {}): Promise<CocoDatasetJson> {
  const set = await scanVocDetection(root, { ...opts, collectIssues: false });
  const imagesDir = path.resolve(set.root, opts.imagesDir ?? 'JPEGImages');
  const images: CocoDatasetJson['images'] = [];
  const annotations: CocoDatasetJson['annotations'] = [];
  let annId = 1;
  set.records.forEach((r, i) => {
    const imageId = i + 1;
    images.push({
      id: imageId,
      file_name: path.relative(imagesDir, r.file).split(path.sep).join('/'),
      width: r.width,
      height: r.height,
    });
    for (let k = 0; k < r.target.labels.length; k++) {
      const [x0, y0, x1, y1] = r.boxesFloat64.subarray(k * 4, k * 4 + 4);
      const w = x1 - x0;
      const h = y1 - y0;
      annotations.push({
        id: annId++,
        image_id: imageId,
        category_id: r.target.labels[k] + 1,
        bbox: [x0, y0, w, h],
        area: w * h,
        iscrowd: 0,
      });
    }
  });
  return {
    info: { description: `Pascal VOC detection converted to COCO instances (split ${opts.split ?? opts.splitFile ?? 'all'})` },
    licenses: [],
    images,
    annotations,
    categories: set.classes.map((name, i) => ({ id: i + 1, name, supercategory: 'none' })),
  };
}

/**
 * Convert a VOC split and write the COCO JSON (`vocToCoco` + `writeJsonAtomic`).
 * @returns counts of what was written.
 */
export async function convertVocToCoco(
  root: string, outFile: string, opts: VocDetectionOptions = {},
): Promise<{ images: number; annotations: number; categories: number }> {
  const json = await vocToCoco(root, opts);
  await writeJsonAtomic(outFile, json);
  return { images: json.images.length, annotations: json.annotations.length, categories: json.categories.length };
}
