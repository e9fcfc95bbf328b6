/**
 * Anchor boxes for dense detectors, with torchvision's `AnchorGenerator` conventions.
 *
 * Per level, the cell anchors are zero-centred boxes for every (aspect ratio, size) pair, ratio-major:
 * `h_ratio = sqrt(ratio)`, `w_ratio = 1 / h_ratio` (ratio = height / width), `w = w_ratio * size`,
 * `h = h_ratio * size`, box `round([-w, -h, w, h] / 2)` with round-half-to-even, all in float32 arithmetic. The
 * anchors of a level are the cell anchors shifted by `(x * strideX, y * strideY)` for every feature-map cell,
 * ordered y, then x, then cell anchor: the order of the head's flattened outputs.
 *
 * Strides follow torchvision: `stride = floor(imageSize / gridSize)` per axis, from the (padded) input size and
 * the feature map's size. It equals the level's `FeatureSpec.stride` when the input size is a multiple of it;
 * otherwise (e.g. a 96-pixel side at P6, grid 2) torchvision uses 48, not 64, and so do we, so that trained
 * torchvision weights see the anchors they were trained with.
 *
 * Reference: torchvision `models/detection/anchor_utils.py` (`AnchorGenerator`), `retinanet.py`
 * (`_default_anchorgen`); Lin et al. 2017, "Focal Loss for Dense Object Detection" (3 scales x 3 ratios).
 */

/** Round half to even, as torch.round. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** How anchor sizes are derived per level: octave scales of a base size, as RetinaNet defines them. */
export interface OctaveAnchorSizes {
  /** Base size s of each level, pixels (RetinaNet: 32, 64, 128, 256, 512 on P3..P7). */
  baseSizes: readonly number[];
  /** Sizes per level n: `s * 2^(k/n)` for k = 0..n-1 (RetinaNet: 3). */
  scalesPerOctave: number;
  /**
   * Multiplier of every size after the octave rule, the product rounded half to even (Python's `round`): 0.5 gives
   * torchvision's sizes halved, for images about half the size. 1 changes nothing (the sizes are integers).
   */
  sizeScale: number;
}

/**
 * Anchor sizes, pixels, one list per level: `round(int(s * 2^(k/n)) * sizeScale)` for each base size s and
 * k = 0..n-1, with `int` truncating as Python's and `round` half to even as Python's. With sizeScale 1 this is
 * torchvision's `_default_anchorgen` rule `(x, int(x * 2 ** (1.0 / 3)), int(x * 2 ** (2.0 / 3)))`.
 * @throws Error when scalesPerOctave is not a positive integer or sizeScale is not positive.
 * Reference: torchvision `models/detection/retinanet.py` (`_default_anchorgen`); Lin et al. 2017, section 4.
 */
export function octaveAnchorSizes(o: OctaveAnchorSizes): number[][] {
  if (!Number.isInteger(o.scalesPerOctave) || o.scalesPerOctave < 1) throw new Error(`scalesPerOctave must be a positive integer, got ${o.scalesPerOctave}`);
  if (!(o.sizeScale > 0)) throw new Error(`sizeScale must be positive, got ${o.sizeScale}`);
  return o.baseSizes.map((s) =>
    Array.from({ length: o.scalesPerOctave }, (_, k) => {
      const size = Math.trunc(s * 2 ** (k / o.scalesPerOctave));
      return o.sizeScale === 1 ? size : roundHalfEven(size * o.sizeScale);
    }),
  );
}

/**
 * RetinaNet's default anchor sizes, pixels, one list per level P3..P7: `(s, int(s * 2^(1/3)), int(s * 2^(2/3)))`
 * for s in 32, 64, 128, 256, 512 (truncated as Python's `int`): [[32, 40, 50], [64, 80, 101], [128, 161, 203],
 * [256, 322, 406], [512, 645, 812]].
 */
export function retinaNetAnchorSizes(): number[][] {
  return octaveAnchorSizes({ baseSizes: [32, 64, 128, 256, 512], scalesPerOctave: 3, sizeScale: 1 });
}

/** RetinaNet's aspect ratios (height / width), the same on every level. */
export const RETINANET_ASPECT_RATIOS: readonly number[] = [0.5, 1.0, 2.0];

/**
 * Zero-centred cell anchors for one level, torchvision `AnchorGenerator.generate_anchors` in float32.
 * @param sizes anchor sizes, pixels (sqrt of the area at ratio 1).
 * @param aspectRatios height / width ratios.
 * @returns new [A * 4] float32 xyxy with A = ratios x sizes, ratio-major.
 */
export function cellAnchors(sizes: readonly number[], aspectRatios: readonly number[]): Float32Array {
  const f = Math.fround;
  const out = new Float32Array(sizes.length * aspectRatios.length * 4);
  let k = 0;
  for (const ratio of aspectRatios) {
    const hr = f(Math.sqrt(f(ratio)));
    const wr = f(1 / hr);
    for (const size of sizes) {
      const w = f(wr * f(size));
      const h = f(hr * f(size));
      out[k++] = roundHalfEven(f(-w / 2));
      out[k++] = roundHalfEven(f(-h / 2));
      out[k++] = roundHalfEven(f(w / 2));
      out[k++] = roundHalfEven(f(h / 2));
    }
  }
  return out;
}

/** One feature map's grid: its size in cells and the stride (pixels per cell) per axis. */
export interface AnchorGrid {
  height: number;
  width: number;
  strideY: number;
  strideX: number;
}

/**
 * Generates anchors for a list of pyramid levels. Holds no tensors; results are cached per input geometry.
 */
export class AnchorGenerator {
  /** Cell anchors per level, each [A * 4] float32 xyxy. */
  readonly cellAnchors: readonly Float32Array[];
  private readonly cache = new Map<string, { anchors: Float32Array; counts: number[] }>();

  /**
   * @param sizes anchor sizes per level, pixels.
   * @param aspectRatios height / width ratios per level.
   * @throws Error when the lists differ in length or a level has no anchor.
   */
  constructor(
    readonly sizes: readonly (readonly number[])[],
    readonly aspectRatios: readonly (readonly number[])[],
  ) {
    if (sizes.length !== aspectRatios.length || sizes.length === 0) {
      throw new Error(`AnchorGenerator: one size list and one ratio list per level, got ${sizes.length} and ${aspectRatios.length}`);
    }
    this.cellAnchors = sizes.map((s, i) => {
      if (s.length === 0 || aspectRatios[i].length === 0) throw new Error(`AnchorGenerator: level ${i} has no sizes or no ratios`);
      return cellAnchors(s, aspectRatios[i]);
    });
  }

  /** Number of levels. */
  get numLevels(): number {
    return this.sizes.length;
  }

  /** Anchors per feature-map location, per level (A). */
  numAnchorsPerLocation(): number[] {
    return this.sizes.map((s, i) => s.length * this.aspectRatios[i].length);
  }

  /**
   * Anchors of every level for given grids, level-major, then y, x, cell anchor.
   * @param grids one grid per level.
   * @returns new [R * 4] float32 xyxy, pixels of the network input, R = sum(Hi * Wi * A).
   * @throws Error when the number of grids is not the number of levels.
   */
  gridAnchors(grids: readonly AnchorGrid[]): Float32Array {
    if (grids.length !== this.numLevels) throw new Error(`AnchorGenerator: ${this.numLevels} levels, got ${grids.length} grids`);
    const total = grids.reduce((s, g, i) => s + g.height * g.width * this.cellAnchors[i].length, 0);
    const out = new Float32Array(total);
    let k = 0;
    grids.forEach((g, l) => {
      const base = this.cellAnchors[l];
      for (let y = 0; y < g.height; y++) {
        const sy = y * g.strideY;
        for (let x = 0; x < g.width; x++) {
          const sx = x * g.strideX;
          for (let a = 0; a < base.length; a += 4) {
            out[k++] = sx + base[a];
            out[k++] = sy + base[a + 1];
            out[k++] = sx + base[a + 2];
            out[k++] = sy + base[a + 3];
          }
        }
      }
    });
    return out;
  }

  /**
   * Anchors for a batch of (padded) input size `imageHeight x imageWidth` whose level `i` feature map is
   * `featureSizes[i]` = [Hi, Wi]; strides are torchvision's `floor(imageSize / gridSize)`. Cached; the returned
   * arrays are shared: do not modify them.
   * @returns `anchors` [R * 4] float32 xyxy (input pixels) and `counts` [Hi * Wi * A] per level.
   * @throws Error when the number of feature sizes is not the number of levels.
   */
  anchorsFor(imageHeight: number, imageWidth: number, featureSizes: readonly (readonly [number, number])[]): { anchors: Float32Array; counts: number[] } {
    const key = `${imageHeight}x${imageWidth}:${featureSizes.map((s) => s.join('x')).join(',')}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const grids = featureSizes.map(([h, w]) => ({
      height: h,
      width: w,
      strideY: Math.floor(imageHeight / h),
      strideX: Math.floor(imageWidth / w),
    }));
    const A = this.numAnchorsPerLocation();
    const value = { anchors: this.gridAnchors(grids), counts: featureSizes.map(([h, w], i) => h * w * A[i]) };
    if (this.cache.size > 64) this.cache.clear();
    this.cache.set(key, value);
    return value;
  }
}
