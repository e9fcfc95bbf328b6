/**
 * An image classifier: a ResNet backbone and the linear head on its last level, with torchvision's state names
 * (`conv1.weight`, ..., `fc.weight`), so that a torchvision classification checkpoint maps one to one.
 */
import * as tf from '@tensorflow/tfjs';
import { ResNet } from '../../src/backbone/resnet';
import { ForwardContext, Module } from '../../src/nn/module';
import { LinearClassificationHead } from './linear_head';
import { CrossEntropyOptions, softmaxCrossEntropy } from './losses';

/** Backbone + head. The backbone must end at C5 (its `outLevels` last entry feeds the head). */
export class ResNetClassifier extends Module {
  readonly backbone: ResNet;
  readonly head: LinearClassificationHead;
  readonly numClasses: number;

  constructor(backbone: ResNet, numClasses: number, seed = 1) {
    super();
    this.backbone = this.registerModule('backbone', backbone, { flatten: true });
    this.numClasses = numClasses;
    this.head = this.registerModule('head', new LinearClassificationHead({ inChannels: backbone.outChannels, numClasses, seed }), {
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
   * The training loss for one batch, as a record with a stable key.
   * @param labels [N] int32 class indices.
   */
  computeLosses(
    images: tf.Tensor4D,
    labels: tf.Tensor1D,
    opts: CrossEntropyOptions & { training: boolean },
  ): { classification: tf.Scalar } {
    return tf.tidy(() => {
      const logits = this.forward(images, { training: opts.training });
      return { classification: softmaxCrossEntropy(logits, labels, opts) };
    });
  }
}
