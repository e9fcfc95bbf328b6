/**
 * tfjs-backend-wasm's own kernels that a project kernel wraps instead of replacing (it handles the fast cases
 * itself, or prepares the inputs, and calls the stock kernel for the rest).
 */
import * as tf from '@tensorflow/tfjs-core';

const stock = new Map<string, tf.KernelConfig>();

/**
 * Remember the wasm backend's kernel `name` before a project kernel of the same name is registered. A call after
 * that registration keeps the kernel captured first (`ours` is the project kernel's function).
 * @throws Error when the wasm backend has no kernel `name` registered.
 */
export function captureStockKernel(name: string, ours: tf.KernelFunc): void {
  const k = tf.getKernel(name, 'wasm');
  if (k == null) throw new Error(`${name} (wasm): @tensorflow/tfjs-backend-wasm has not registered its kernel`);
  if (k.kernelFunc !== ours) stock.set(name, k);
}

/**
 * The captured wasm kernel `name`.
 * @throws Error when it was not captured (the project kernels were registered without {@link captureStockKernel}).
 */
export function stockKernel(name: string): tf.KernelConfig {
  const k = stock.get(name);
  if (k == null) throw new Error(`${name} (wasm): the backend's own kernel was not captured before registration`);
  return k;
}

/** A setup function that runs the stock kernel's setup (binding its wasm export) when the backend starts. */
export function stockSetup(name: string): tf.KernelSetupFunc {
  return (backend) => stock.get(name)?.setupFunc?.(backend);
}
