/**
 * Kernel registrations that tfjs-backend-wasm lacks (or ships as scalar loops) for training: convolution and
 * depthwise-convolution gradients built on XNNPACK forward kernels, `UnsortedSegmentSum` (tf.gather's gradient), and
 * faster replacements of stock kernels that training runs often: `Slice` and `SplitV` (no full-input copy),
 * `MaxPoolGrad` and `Identity` (shares memory instead of copying), a `ResizeBilinearGrad` that honours
 * `halfPixelCenters` (the stock one ignores it), and a `BatchMatMul` that sends transposed products (every matMul
 * gradient) to XNNPACK instead of the stock scalar loop, and a `GatherV2` that copies whole rows.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchMatMulConfig } from './batch_mat_mul';
import { conv2DBackpropFilterConfig } from './conv2d_backprop_filter';
import { conv2DBackpropInputConfig } from './conv2d_backprop_input';
import { depthwiseConv2dNativeBackpropFilterConfig } from './depthwise_conv2d_native_backprop_filter';
import { depthwiseConv2dNativeBackpropInputConfig } from './depthwise_conv2d_native_backprop_input';
import { identityConfig } from './identity';
import { maxPoolGradConfig } from './max_pool_grad';
import { resizeBilinearGradConfig, resizeBilinearGradCpuConfig } from './resize_bilinear_grad';
import { sliceConfig, splitVConfig } from './slice';
import { captureStockKernel } from './stock';
import { gatherV2Config } from './gather';
import { unsortedSegmentSumConfig } from './unsorted_segment_sum';

/** The kernels registered for `wasm` by {@link registerWasmTrainingKernels}, in registration order. */
export const WASM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  unsortedSegmentSumConfig,
  sliceConfig,
  splitVConfig,
  maxPoolGradConfig,
  identityConfig,
  resizeBilinearGradConfig,
  batchMatMulConfig,
  gatherV2Config,
];

/** The kernels of WASM_TRAINING_KERNELS that wrap the backend's own (captured before registration). */
const WRAPPED_WASM_KERNELS: readonly tf.KernelConfig[] = [batchMatMulConfig, gatherV2Config];

let registered = false;

/**
 * Register, once, the kernels that training needs on the wasm backend. Replaces the backend's own
 * `Conv2DBackpropInput` (a scalar loop) with one built on XNNPACK convolutions, `Slice`, `SplitV`, `MaxPoolGrad` and
 * `Identity` with the faster kernels of this folder, and `ResizeBilinearGrad` with one that honours
 * `halfPixelCenters`, and wraps `BatchMatMul` and `GatherV2`. Safe to call several times; call it after
 * `@tensorflow/tfjs-backend-wasm` has been loaded.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  for (const config of WRAPPED_WASM_KERNELS) captureStockKernel(config.kernelName, config.kernelFunc);
  for (const config of WASM_TRAINING_KERNELS) {
    if (tf.getKernel(config.kernelName, 'wasm') != null) tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel(config);
  }
  registered = true;
}

/** The kernels registered for `cpu` by {@link registerCpuKernels}. */
export const CPU_KERNELS: readonly tf.KernelConfig[] = [resizeBilinearGradCpuConfig];

let cpuRegistered = false;

/**
 * Register, once, the cpu kernels that replace defective stock ones: `ResizeBilinearGrad` honouring
 * `halfPixelCenters`. Safe to call several times.
 */
export function registerCpuKernels(): void {
  if (cpuRegistered) return;
  for (const config of CPU_KERNELS) {
    if (tf.getKernel(config.kernelName, 'cpu') != null) tf.unregisterKernel(config.kernelName, 'cpu');
    tf.registerKernel(config);
  }
  cpuRegistered = true;
}
