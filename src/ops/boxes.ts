/**
 * Box arithmetic on flat typed arrays: format conversion, areas, clipping.
 *
 * Conventions: a set of M boxes is a flat array of length 4M, box i at [4i, 4i + 4). `xyxy` is
 * (x1, y1, x2, y2) with x2 >= x1, y2 >= y1; `xywh` is (x1, y1, width, height) (COCO's results format);
 * `cxcywh` is (center x, center y, width, height). Coordinates are continuous pixels: a box covering a whole
 * W x H image is [0, 0, W, H].
 *
 * Reference: torchvision `ops/boxes.py` (`box_convert`, `box_area`, `clip_boxes_to_image`).
 */

/** A flat array of boxes, 4 numbers per box. */
export type BoxArray = Float32Array | Float64Array;

function checkFlat(boxes: ArrayLike<number>, what: string): number {
  if (boxes.length % 4 !== 0) throw new Error(`${what}: expected a flat [M * 4] box array, got length ${boxes.length}`);
  return boxes.length / 4;
}

/**
 * Convert xyxy boxes to xywh (COCO results format).
 * @param boxes [M * 4] xyxy, pixels.
 * @returns new [M * 4] float32 xywh, pixels.
 * @throws Error when the length is not a multiple of 4.
 */
export function boxesXyxyToXywh(boxes: ArrayLike<number>): Float32Array {
  const m = checkFlat(boxes, 'boxesXyxyToXywh');
  const out = new Float32Array(4 * m);
  for (let i = 0; i < 4 * m; i += 4) {
    out[i] = boxes[i];
    out[i + 1] = boxes[i + 1];
    out[i + 2] = boxes[i + 2] - boxes[i];
    out[i + 3] = boxes[i + 3] - boxes[i + 1];
  }
  return out;
}

/**
 * Convert xywh boxes to xyxy.
 * @param boxes [M * 4] xywh, pixels.
 * @returns new [M * 4] float32 xyxy, pixels.
 * @throws Error when the length is not a multiple of 4.
 */
export function boxesXywhToXyxy(boxes: ArrayLike<number>): Float32Array {
  const m = checkFlat(boxes, 'boxesXywhToXyxy');
  const out = new Float32Array(4 * m);
  for (let i = 0; i < 4 * m; i += 4) {
    out[i] = boxes[i];
    out[i + 1] = boxes[i + 1];
    out[i + 2] = boxes[i] + boxes[i + 2];
    out[i + 3] = boxes[i + 1] + boxes[i + 3];
  }
  return out;
}

/**
 * Areas (x2 - x1) * (y2 - y1) of xyxy boxes, in float32 arithmetic as torchvision's `box_area` on float32 boxes.
 * @param boxes [M * 4] xyxy, pixels.
 * @returns new [M] float32, square pixels (negative for inverted boxes, as torchvision).
 */
export function boxAreas(boxes: ArrayLike<number>): Float32Array {
  const m = checkFlat(boxes, 'boxAreas');
  const out = new Float32Array(m);
  const f = Math.fround;
  for (let i = 0; i < m; i++) out[i] = f(f(boxes[4 * i + 2] - boxes[4 * i]) * f(boxes[4 * i + 3] - boxes[4 * i + 1]));
  return out;
}

/**
 * Clamp xyxy boxes to an image: x to [0, width], y to [0, height] (torchvision `clip_boxes_to_image`).
 * @param boxes [M * 4] xyxy, pixels; modified in place and returned.
 * @param height image height H, pixels.
 * @param width image width W, pixels.
 * @returns `boxes`.
 */
export function clipBoxesInPlace<T extends BoxArray>(boxes: T, height: number, width: number): T {
  checkFlat(boxes, 'clipBoxesInPlace');
  for (let i = 0; i < boxes.length; i += 4) {
    boxes[i] = Math.min(Math.max(boxes[i], 0), width);
    boxes[i + 1] = Math.min(Math.max(boxes[i + 1], 0), height);
    boxes[i + 2] = Math.min(Math.max(boxes[i + 2], 0), width);
    boxes[i + 3] = Math.min(Math.max(boxes[i + 3], 0), height);
  }
  return boxes;
}
