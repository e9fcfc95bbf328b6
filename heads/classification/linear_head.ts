/**
 * The classification head of torchvision's ResNet: global average pooling and one linear layer (`fc`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { SeedSequence } from '../../src/common/seed';
import { Linear } from '../../src/nn/layers';
import { Module } from '../../src/nn/module';

/** Options of `LinearClassificationHead`. */
export interface LinearHeadOptions {
  /** Channels of the feature map it pools (from the backbone's `FeatureSpec`). */
  inChannels: number;
  /** Number of classes K. */
  numClasses: number;
  seed?: number;
}

/** Global average pooling + linear layer; its parameters are `fc.weight` ([C, K]) and `fc.bias` ([K]). */
export class LinearClassificationHead extends Module {
  readonly fc: Linear;

  constructor(opts: LinearHeadOptions) {
    super();
    if (!Number.isInteger(opts.numClasses) || opts.numClasses < 1) {
      throw new Error(`numClasses must be a positive integer, got ${opts.numClasses}`);
    }
    this.fc = this.registerModule(
      'fc',
      new Linear({ inFeatures: opts.inChannels, outFeatures: opts.numClasses, seeds: new SeedSequence(opts.seed ?? 1) }),
    );
  }

  /**
   * @param features [N, H, W, C] float32 (the backbone's last level).
   * @returns logits [N, K] float32; caller owns it.
   */
  forward(features: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.fc.forward(tf.mean(features, [1, 2]) as tf.Tensor2D));
  }
}
