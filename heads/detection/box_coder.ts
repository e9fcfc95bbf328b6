/**
 * The box parametrization of R-CNN-style detectors (Girshick et al. 2014): a box relative to an anchor is
 * `dx = wx (cx - cxa) / wa`, `dy = wy (cy - cya) / ha`, `dw = ww log(w / wa)`, `dh = wh log(h / ha)`, with
 * `w = x2 - x1` (no +1) and centres `x1 + 0.5 w`. Decoding clamps `dw`, `dh` at `log(1000 / 16)` before the
 * exponential, as torchvision.
 *
 * Typed-array versions run in float64 (targets are built and detections decoded at the JS boundary); the tensor
 * version is differentiable (GIoU loss on decoded boxes).
 *
 * Reference: torchvision `models/detection/_utils.py` (`BoxCoder`, `encode_boxes`, `decode_single`).
 */
import * as tf from '@tensorflow/tfjs-core';

/** torchvision's default `bbox_xform_clip`: log(1000 / 16). */
export const BBOX_XFORM_CLIP = Math.log(1000 / 16);

/** Encoder/decoder of box deltas with weights (wx, wy, ww, wh). RetinaNet uses (1, 1, 1, 1). */
export class BoxCoder {
  /**
   * @param weights (wx, wy, ww, wh). Default (1, 1, 1, 1).
   * @param clip upper bound of dw, dh before `exp` when decoding. Default log(1000 / 16).
   */
  constructor(
    readonly weights: readonly [number, number, number, number] = [1, 1, 1, 1],
    readonly clip: number = BBOX_XFORM_CLIP,
  ) {}

  /**
   * Deltas that take each anchor to its box (torchvision `encode_single(reference_boxes=boxes, proposals=anchors)`).
   * @param boxes [D * 4] xyxy target boxes, pixels.
   * @param anchors [D * 4] xyxy anchors, pixels, paired with `boxes`.
   * @returns new [D * 4] float32 deltas (dx, dy, dw, dh), computed in float64.
   * @throws Error when the lengths differ or are not multiples of 4.
   */
  encode(boxes: ArrayLike<number>, anchors: ArrayLike<number>): Float32Array {
    if (boxes.length !== anchors.length || boxes.length % 4 !== 0) {
      throw new Error(`BoxCoder.encode: boxes and anchors must both be [D * 4], got lengths ${boxes.length} and ${anchors.length}`);
    }
    const [wx, wy, ww, wh] = this.weights;
    const out = new Float32Array(boxes.length);
    for (let i = 0; i < boxes.length; i += 4) {
      const aw = anchors[i + 2] - anchors[i];
      const ah = anchors[i + 3] - anchors[i + 1];
      const acx = anchors[i] + 0.5 * aw;
      const acy = anchors[i + 1] + 0.5 * ah;
      const gw = boxes[i + 2] - boxes[i];
      const gh = boxes[i + 3] - boxes[i + 1];
      const gcx = boxes[i] + 0.5 * gw;
      const gcy = boxes[i + 1] + 0.5 * gh;
      out[i] = (wx * (gcx - acx)) / aw;
      out[i + 1] = (wy * (gcy - acy)) / ah;
      out[i + 2] = ww * Math.log(gw / aw);
      out[i + 3] = wh * Math.log(gh / ah);
    }
    return out;
  }

  /**
   * Boxes from deltas relative to anchors (torchvision `decode_single`), in float64 with torchvision's order of
   * operations.
   * @param deltas [D * 4] (dx, dy, dw, dh).
   * @param anchors [D * 4] xyxy anchors, pixels.
   * @param out optional destination [D * 4]; default a new Float64Array.
   * @returns [D * 4] xyxy boxes, pixels (not clipped).
   * @throws Error when the lengths differ or are not multiples of 4.
   */
  decode(deltas: ArrayLike<number>, anchors: ArrayLike<number>, out?: Float64Array | Float32Array): Float64Array | Float32Array {
    if (deltas.length !== anchors.length || deltas.length % 4 !== 0) {
      throw new Error(`BoxCoder.decode: deltas and anchors must both be [D * 4], got lengths ${deltas.length} and ${anchors.length}`);
    }
    const [wx, wy, ww, wh] = this.weights;
    const res = out ?? new Float64Array(deltas.length);
    for (let i = 0; i < deltas.length; i += 4) {
      const w = anchors[i + 2] - anchors[i];
      const h = anchors[i + 3] - anchors[i + 1];
      const cx = anchors[i] + 0.5 * w;
      const cy = anchors[i + 1] + 0.5 * h;
      const dw = Math.min(deltas[i + 2] / ww, this.clip);
      const dh = Math.min(deltas[i + 3] / wh, this.clip);
      const pcx = (deltas[i] / wx) * w + cx;
      const pcy = (deltas[i + 1] / wy) * h + cy;
      const pw = Math.exp(dw) * w;
      const ph = Math.exp(dh) * h;
      res[i] = pcx - 0.5 * pw;
      res[i + 1] = pcy - 0.5 * ph;
      res[i + 2] = pcx + 0.5 * pw;
      res[i + 3] = pcy + 0.5 * ph;
    }
    return res;
  }

  /**
   * Differentiable decoding (torchvision `decode_single` on tensors). The clamp of dw, dh is `minimum`, whose
   * gradient is 0 above the clip, as torch.clamp's.
   * @param deltas [..., 4] float32 (dx, dy, dw, dh).
   * @param anchors [..., 4] float32 xyxy, broadcastable to `deltas` (e.g. [R, 4] against [N, R, 4]).
   * @returns [..., 4] float32 xyxy boxes, pixels; caller owns it.
   * @throws Error when the last dimension of either input is not 4.
   */
  decodeTensor(deltas: tf.Tensor, anchors: tf.Tensor): tf.Tensor {
    if (deltas.shape[deltas.rank - 1] !== 4 || anchors.shape[anchors.rank - 1] !== 4) {
      throw new Error(`BoxCoder.decodeTensor: expected [..., 4] deltas and anchors, got [${deltas.shape}] and [${anchors.shape}]`);
    }
    const [wx, wy, ww, wh] = this.weights;
    return tf.tidy(() => {
      const [ax1, ay1, ax2, ay2] = tf.unstack(anchors, anchors.rank - 1);
      const [dx, dy, dw, dh] = tf.unstack(deltas, deltas.rank - 1);
      const w = tf.sub(ax2, ax1);
      const h = tf.sub(ay2, ay1);
      const cx = tf.add(ax1, tf.mul(w, 0.5));
      const cy = tf.add(ay1, tf.mul(h, 0.5));
      const pcx = tf.add(tf.mul(tf.div(dx, wx), w), cx);
      const pcy = tf.add(tf.mul(tf.div(dy, wy), h), cy);
      const pw = tf.mul(tf.exp(tf.minimum(tf.div(dw, ww), this.clip)), w);
      const ph = tf.mul(tf.exp(tf.minimum(tf.div(dh, wh), this.clip)), h);
      const hw = tf.mul(pw, 0.5);
      const hh = tf.mul(ph, 0.5);
      return tf.stack([tf.sub(pcx, hw), tf.sub(pcy, hh), tf.add(pcx, hw), tf.add(pcy, hh)], deltas.rank - 1);
    });
  }
}
