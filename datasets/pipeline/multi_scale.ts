/**
 * The test-time inputs of semantic segmentation: the image at each test scale, resized with Pillow's arithmetic and
 * normalized. Pure computation on pixel arrays (no decoder, no file system), so the portable inference API shares it
 * with the CLI's `predict` and `eval`.
 */
import type { RgbImage } from '../types';
import { normalizeImage } from './normalize';
import { resampleImage } from './resample';
import { resizeShorterSideSize } from './transforms';

/**
 * The test-time inputs of one image: resized bilinearly so that its shorter side is `shortEdge` (null: the original
 * shorter side) times each of `scales`, then normalized with the ImageNet mean and std.
 * @param image [H, W, 3] uint8 RGB, the original image. Not modified.
 * @returns one [h, w, 3] float32 normalized image per scale, in the order of `scales` (at scale 1 without
 *   `shortEdge`, the original pixels unresampled).
 * @throws Error on an empty `scales` or a non-positive scale.
 * Reference: mmsegmentation `MultiScaleFlipAug` (0.x), `keep_ratio=True` with one short side per scale.
 */
export function multiScaleInputs(
  image: RgbImage<Uint8Array>,
  shortEdge: number | null,
  scales: readonly number[],
): RgbImage<Float32Array>[] {
  if (scales.length === 0 || scales.some((s) => !(s > 0))) throw new Error(`eval.scales must be positive numbers, got [${scales}]`);
  const { height: H, width: W } = image;
  return scales.map((scale) => {
    const edge = Math.max(1, Math.round((shortEdge ?? Math.min(H, W)) * scale));
    const size = resizeShorterSideSize(H, W, edge);
    const pixels = size.height === H && size.width === W ? image.data : resampleImage(image.data, H, W, 3, size.height, size.width, 'bilinear');
    return normalizeImage({ data: pixels, height: size.height, width: size.width });
  });
}
