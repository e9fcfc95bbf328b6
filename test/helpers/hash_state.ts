/**
 * Fill a module's state with the hash values of src/weights/hash_init.ts under its torch names, as the parity
 * generators in scripts/parity/ do on the torch side, without going through a weight file.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../../src/nn/module';
import { hashTensorValues } from '../../src/weights/hash_init';

/** torch's shape of one of our tensors: HWIO kernels are OIHW in torch, [in, out] Linear weights are [out, in]. */
export function torchShapeOf(shape: readonly number[]): number[] {
  if (shape.length === 4) return [shape[3], shape[2], shape[0], shape[1]];
  if (shape.length === 2) return [shape[1], shape[0]];
  return [...shape];
}

/** Our row-major flat index of the element at torch index `i` (see `torchShapeOf`). */
export function ourIndexOfTorch(i: readonly number[], ourShape: readonly number[]): number {
  if (ourShape.length === 4) {
    const [o, c, y, x] = i;
    return ((y * ourShape[1] + x) * ourShape[2] + c) * ourShape[3] + o;
  }
  if (ourShape.length === 2) return i[1] * ourShape[1] + i[0];
  return i[0];
}

/**
 * Assign every parameter and buffer of `module` from the hash of `prefix + name` in torch's layout.
 * @param skip names (without prefix) to leave as they are.
 */
export function assignHashState(module: Module, prefix = '', skip: (name: string) => boolean = () => false): void {
  for (const e of module.stateEntries()) {
    if (skip(e.name)) continue;
    const shape = e.variable.shape;
    const ts = torchShapeOf(shape);
    tf.tidy(() => {
      const t = tf.tensor(hashTensorValues(prefix + e.name, ts), ts);
      const ours = shape.length === 4 ? tf.transpose(t, [2, 3, 1, 0]) : shape.length === 2 ? tf.transpose(t) : t;
      e.variable.assign(ours);
    });
  }
}
