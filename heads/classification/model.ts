/**
 * An image classifier: a ResNet backbone and the linear head on its last level, with torchvision's state names
 * (`conv1.weight`, ..., `fc.weight`), so that a torchvision classification checkpoint maps one to one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Backbone, specOf } from '../../src/backbone/features';
import type { ResNet } from '../../src/backbone/resnet';
import { ForwardContext, Module } from '../../src/nn/module';
import type { TaskModel } from '../../src/nn/task_model';
import { LinearClassificationHead } from './linear_head';
import { CrossEntropyOptions, softmaxCrossEntropy } from './losses';

/** Channels of the backbone's last output level, which the head pools. */
function lastLevelChannels(backbone: Backbone): number {
  return specOf(backbone.featureSpecs(), backbone.outLevels[backbone.outLevels.length - 1], 'ResNetClassifier').channels;
}

/** A training batch of the classifier: what `collateClassification` produces. */
export interface ClassificationBatchInput {
  /** [N, H, W, 3] float32, normalized RGB, NHWC. */
  images: tf.Tensor4D;
  /** [N] int32 class indices 0..K-1. */
  labels: tf.Tensor1D;
}

/** Class scores of a batch, read back: row-major [N, K]. */
export interface ClassificationPrediction {
  /** [N * K] float32 logits. */
  logits: Float32Array;
  /** [N * K] float32 softmax probabilities 0..1. */
  probs: Float32Array;
}

/** Backbone + head. The backbone must end at C5 (its `outLevels` last entry feeds the head). */
export class ResNetClassifier<B extends Backbone = ResNet>
  extends Module
  implements TaskModel<ClassificationBatchInput, tf.Tensor4D, ClassificationPrediction>
{
  readonly backbone: B;
  readonly head: LinearClassificationHead;
  readonly numClasses: number;
  /** State-name prefixes of the classifier layer, which fine-tuning to another class count re-initializes. */
  readonly classifierKeys: readonly string[] = ['fc.'];
  /** 1: global average pooling takes any input size, so batches (fixed-size crops) need no padding. */
  readonly sizeDivisibility = 1;
  /** Loss options of `computeLosses` (label smoothing). */
  readonly lossOptions: CrossEntropyOptions;

  /**
   * @param numClasses K.
   * @param seed seed of the head's initialization.
   * @param loss options of the training loss (torchvision's `--label-smoothing`).
   */
  constructor(backbone: B, numClasses: number, seed = 1, loss: CrossEntropyOptions = {}) {
    super();
    this.lossOptions = { ...loss };
    this.backbone = this.registerModule('backbone', backbone, { flatten: true });
    this.numClasses = numClasses;
    this.head = this.registerModule('head', new LinearClassificationHead({ inChannels: lastLevelChannels(backbone), numClasses, seed }), {
      flatten: true,
    });
  }

  /**
   * @param images [N, H, W, 3] float32, normalized RGB, NHWC.
   * @returns logits [N, K] float32; caller owns it.
   */
  forward(images: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D {
    return tf.tidy(() => {
      const feats = this.backbone.forward(images, ctx);
      const levels = this.backbone.outLevels;
      return this.head.forward(feats[levels[levels.length - 1]]);
    });
  }

  /**
   * The training loss for one batch, as a record with a stable key: softmax cross-entropy (with the constructor's
   * label smoothing), mean over the batch.
   * @returns `classification`, a float32 scalar; caller owns it.
   */
  computeLosses(batch: ClassificationBatchInput, ctx: ForwardContext): { classification: tf.Scalar } {
    return tf.tidy(() => {
      const logits = this.forward(batch.images, { training: ctx.training });
      return { classification: softmaxCrossEntropy(logits, batch.labels, this.lossOptions) };
    });
  }

  /**
   * Logits and softmax probabilities of a batch (inference mode).
   * @param images [N, H, W, 3] float32, normalized RGB; not disposed.
   */
  async predict(images: tf.Tensor4D): Promise<ClassificationPrediction> {
    const [logits, probs] = tf.tidy(() => {
      const l = this.forward(images, { training: false });
      return [l, tf.softmax(l)];
    });
    try {
      const [l, p] = await Promise.all([logits.data(), probs.data()]);
      return { logits: l as Float32Array, probs: p as Float32Array };
    } finally {
      tf.dispose([logits, probs]);
    }
  }
}
