/**
 * torchvision's `BackboneWithFPN`: a ResNet `body` and an FPN on some of its levels, state names `body.*` and
 * `fpn.*` (mounted as `backbone.` in torchvision's detectors), shared by RetinaNet, Faster R-CNN and Panoptic FPN's
 * semantic head.
 *
 * Reference: torchvision `models/detection/backbone_utils.py` (`BackboneWithFPN`, `_resnet_fpn_extractor`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Backbone, BackboneLevel, FeatureMap, type FeatureSpecs, PyramidLevel } from '../../src/backbone/features';
import { ResNet, ResNetBuilderOptions } from '../../src/backbone/resnet';
import { ForwardContext, Module } from '../../src/nn/module';
import { FeaturePyramidNetwork } from './fpn';

/** torchvision `BackboneWithFPN`: `body` (the ResNet) and `fpn`. */
export class BackboneWithFpn extends Module {
  readonly body: Backbone;
  readonly fpn: FeaturePyramidNetwork;
  constructor(body: Backbone, fpn: FeaturePyramidNetwork) {
    super();
    this.body = this.registerModule('body', body);
    this.fpn = this.registerModule('fpn', fpn);
  }

  /** The FPN's output specs. */
  featureSpecs(): FeatureSpecs<PyramidLevel> {
    return this.fpn.featureSpecs();
  }

  /**
   * @param images [N, H, W, 3] float32 normalized RGB; not disposed.
   * @returns the FPN levels, each [N, ceil(H/stride), ceil(W/stride), fpnChannels]; caller owns them.
   */
  forward(images: tf.Tensor4D, ctx: ForwardContext): FeatureMap<PyramidLevel> {
    return tf.tidy(() => this.fpn.forward(this.body.forward(images, ctx), ctx));
  }
}


/** Backbone options a detector or segmenter built on an FPN exposes to its users. */
export type FpnTrunkOptions = Pick<ResNetBuilderOptions, 'normLayer' | 'frozenStages' | 'zeroInitResidual' | 'seed'>;

/**
 * Build the ResNet trunk of an FPN model and the model on it, disposing the trunk when the model's constructor
 * throws. Defaults follow torchvision and detectron2 with pretrained weights: FrozenBatchNorm2d, stem and layer1
 * frozen (`frozenStages: 1`).
 * @param resnet the ResNet builder (`resnet18`, `resnet50`, ...).
 * @param outLevels the levels the FPN reads (C2..C5).
 * @param make builds the model on the trunk, which it then owns.
 */
export function buildOnResNetTrunk<M>(
  resnet: (o: ResNetBuilderOptions) => ResNet,
  outLevels: readonly BackboneLevel[],
  o: FpnTrunkOptions | undefined,
  make: (body: ResNet) => M,
): M {
  const body = resnet({
    normLayer: o?.normLayer ?? 'frozen',
    frozenStages: o?.frozenStages ?? 1,
    zeroInitResidual: o?.zeroInitResidual,
    seed: o?.seed,
    outLevels: [...outLevels],
  });
  try {
    return make(body);
  } catch (e) {
    body.dispose();
    throw e;
  }
}
