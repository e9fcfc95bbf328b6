/**
 * The COCO results format of box detections: one record per detection, `bbox` xywh in original-image pixels,
 * the dataset's category ids. Models return typed detections (xyxy, contiguous labels 0..K-1); this is the one
 * place they become COCO records.
 *
 * Reference: pycocotools `COCO.loadRes` (`image_id`, `category_id`, `bbox`, `score`); torchvision
 * `references/detection/coco_eval.py` (`prepare_for_coco_detection`: xyxy → xywh).
 */
import { boxesXyxyToXywh } from '../../src/ops/boxes';

/** Box detections of one image, highest score first (the shape of a detector's per-image output). */
export interface ImageDetections {
  /** [D * 4] float32 xyxy, original-image pixels. */
  boxes: Float32Array;
  /** [D] float32 scores 0..1. */
  scores: Float32Array;
  /** [D] int32 class indices 0..K-1. */
  labels: Int32Array;
}

/** One detection in the COCO results format (pycocotools `loadRes`). */
export interface CocoDetectionResult {
  image_id: number;
  category_id: number;
  /** [x, y, width, height], original-image pixels. */
  bbox: [number, number, number, number];
  score: number;
}

/**
 * Detections of one image (boxes in original pixels) as COCO results records.
 * @param det detections, boxes xyxy in original-image pixels.
 * @param imageId the COCO image id.
 * @param categoryIds maps a class index 0..K-1 to the dataset's category id (COCO's are not contiguous).
 * @returns one record per detection, in score order.
 * @throws Error when a label has no category id.
 */
export function toCocoResults(det: ImageDetections, imageId: number, categoryIds: readonly number[]): CocoDetectionResult[] {
  const xywh = boxesXyxyToXywh(det.boxes);
  return Array.from(det.labels, (label, i) => {
    const category = categoryIds[label];
    if (category === undefined) throw new Error(`toCocoResults: class ${label} has no category id (${categoryIds.length} given)`);
    return {
      image_id: imageId,
      category_id: category,
      bbox: [xywh[4 * i], xywh[4 * i + 1], xywh[4 * i + 2], xywh[4 * i + 3]] as [number, number, number, number],
      score: det.scores[i],
    };
  });
}
