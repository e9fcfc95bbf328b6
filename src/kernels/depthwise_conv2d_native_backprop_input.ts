/**
 * `DepthwiseConv2dNativeBackpropInput` for the wasm backend, which does not ship one: computed with XNNPACK
 * depthwise convolutions of the output gradient, one per output phase when strided (see `convBackpropInput`).
 *
 * Reference: TensorFlow `DepthwiseConv2dNativeBackpropInput` (tensorflow/core/kernels/depthwise_conv_grad_op.cc).
 */
import * as tf from '@tensorflow/tfjs-core';
import { convBackpropInput } from '../ops/conv';
import { ConvKernelAttrs, geometryFromAttrs } from './conv_kernel_util';

/**
 * Inputs `dy` [N, Ho, Wo, C*M] and `filter` [kh, kw, C, M] float32; attrs as tfjs'
 * `DepthwiseConv2dNativeBackpropInputAttrs` (`inputShape` [N, H, W, C], strides, dilations, pad).
 * Returns dx [N, H, W, C] float32.
 */
export const depthwiseConv2dNativeBackpropInputConfig: tf.KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropInput',
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const dy = inputs.dy as tf.Tensor4D;
    const filter = inputs.filter as tf.Tensor4D;
    const a = attrs as unknown as ConvKernelAttrs & { inputShape: [number, number, number, number] };
    const g = geometryFromAttrs('DepthwiseConv2dNativeBackpropInput', a.inputShape, filter.shape, a, true);
    return convBackpropInput(dy, filter, a.inputShape, g, true);
  },
};
