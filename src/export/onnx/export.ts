/**
 * ONNX export of resvision models: the classifier, the feature extractor, RetinaNet (raw head outputs and anchors;
 * post-processing stays in JS) and the FCN / DeepLabV3 / Semantic FPN segmentation models.
 *
 * Exported graphs take `images` [N, 3, H, W] float32 normalized RGB, **NCHW** like torchvision and every graph
 * `torch.onnx.export` writes, with batch, height and width dynamic; their outputs are NCHW too (the tfjs models
 * are NHWC; the docstring of each output says its layout). Preprocessing (resize, pad, normalize) is not in the
 * graph, as it is not in the tfjs model.
 */
import { type BackboneLevel, specOf } from '../../backbone/features';
import { ResNet } from '../../backbone/resnet';
import { Module } from '../../nn/module';
import { ResNetClassifier } from '../../../heads/classification/model';
import { RetinaNet } from '../../../heads/detection/model';
import { SegmentationModel } from '../../../heads/segmentation/model';
import { SemanticFpn } from '../../../heads/segmentation/semantic_fpn';
import { EmitContext, asResNet, emitDeepLabV3Head, emitFcnHead, emitLinear, emitResNet, emitRetinaNet, emitSemanticFpn, emitUpsampleLike } from './emit';
import { OnnxGraph, ValueInfo } from './graph';
import { FCNHead } from '../../../heads/segmentation/fcn_head';

/** What to export: one model of each task, discriminated by `kind`. */
export type OnnxExportTarget =
  /** Output `logits` [N, K]. */
  | { kind: 'classifier'; model: ResNetClassifier }
  /** Outputs each of the backbone's `outLevels` (`C2`..`C5`, [N, C, H/stride, W/stride]) and `pooled` [N, C]. */
  | { kind: 'features'; backbone: ResNet }
  /** Outputs `clsLogits` [N, R, K], `boxDeltas` [N, R, 4] (dx, dy, dw, dh) and `anchors` [R, 4] xyxy input pixels. */
  | { kind: 'retinanet'; model: RetinaNet }
  /**
   * Outputs `logits` [N, K, H, W] and, with an auxiliary head, `auxLogits` [N, K, H, W]. Semantic FPN's H and W must
   * be multiples of its `sizeDivisibility` (32), as for the tfjs model: the graph does not pad.
   */
  | { kind: 'segmentation'; model: SegmentationModel | SemanticFpn };

/** Options of `exportOnnx`. */
export interface OnnxExportOptions {
  /** String pairs stored in the model's `metadata_props` (class names, preprocessing, provenance). */
  metadata?: Record<string, string>;
  /** `producer_version` of the model. Default `'0'`. */
  producerVersion?: string;
}

/** An exported model: the protobuf bytes and the declared graph inputs and outputs. */
export interface OnnxExport {
  bytes: Uint8Array;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** Number of graph nodes (for reports). */
  numNodes: number;
}

/** Name of the graph input of every exported model. */
export const ONNX_INPUT_NAME = 'images';

function rootOf(t: OnnxExportTarget): Module {
  switch (t.kind) {
    case 'classifier':
    case 'retinanet':
    case 'segmentation':
      return t.model;
    case 'features':
      return t.backbone;
    default: {
      const never: never = t;
      throw new Error(`ONNX export: unknown target ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Build the ONNX graph (opset 17) of a model in inference mode.
 *
 * Weights are read synchronously (`dataSync`): call it on a backend that allows it (cpu, wasm, tensorflow).
 * Initializers carry the torchvision state-dict names of the variables.
 *
 * @returns the serialized `ModelProto` and its input/output declarations; the model is not modified.
 * @throws Error when a module of the model has no ONNX translation (the message names it).
 * Reference: torchvision model files (see `emit.ts`); `torch.onnx.export` graph conventions (NCHW, OIHW).
 */
export function exportOnnx(target: OnnxExportTarget, opts: OnnxExportOptions = {}): OnnxExport {
  const g = new OnnxGraph();
  const ctx = new EmitContext(g, rootOf(target));
  const images = g.declareInput(ONNX_INPUT_NAME);
  const inputs: ValueInfo[] = [
    { name: images, elemType: 'float32', shape: ['N', 3, 'H', 'W'], doc: 'normalized RGB (ImageNet mean/std), NCHW' },
  ];
  const outputs: ValueInfo[] = [];
  let graphName: string;
  switch (target.kind) {
    case 'classifier': {
      const m = target.model;
      const levels = m.backbone.outLevels;
      const feats = emitResNet(ctx, asResNet(m.backbone), images);
      const pooled = g.op('Flatten', [g.op('GlobalAveragePool', [feats[levels[levels.length - 1]]!])], { axis: { i: 1 } });
      g.rename(emitLinear(ctx, m.head.fc, pooled), 'logits');
      outputs.push({ name: 'logits', elemType: 'float32', shape: ['N', m.numClasses], doc: 'class logits [N, K]' });
      graphName = 'resvision_classifier';
      break;
    }
    case 'features': {
      const net = target.backbone;
      const feats = emitResNet(ctx, net, images);
      const specs = net.featureSpecs();
      for (const l of net.outLevels) {
        g.rename(feats[l]!, l);
        const s = specOf(specs, l, 'ONNX export');
        outputs.push({ name: l, elemType: 'float32', shape: ['N', s.channels, `H_${l}`, `W_${l}`], doc: `${l}, NCHW, stride ${s.stride}` });
      }
      const top: BackboneLevel = net.outLevels[net.outLevels.length - 1];
      g.rename(g.op('Flatten', [g.op('GlobalAveragePool', [feats[top]!])], { axis: { i: 1 } }), 'pooled');
      outputs.push({ name: 'pooled', elemType: 'float32', shape: ['N', specOf(specs, top, 'ONNX export').channels], doc: `global average of ${top}, [N, C]` });
      graphName = 'resvision_features';
      break;
    }
    case 'retinanet': {
      const m = target.model;
      const r = emitRetinaNet(ctx, m, images);
      g.rename(r.clsLogits, 'clsLogits');
      g.rename(r.boxDeltas, 'boxDeltas');
      g.rename(r.anchors, 'anchors');
      outputs.push(
        { name: 'clsLogits', elemType: 'float32', shape: ['N', 'R', m.numClasses], doc: 'class logits, rows level-major then y, x, anchor' },
        { name: 'boxDeltas', elemType: 'float32', shape: ['N', 'R', 4], doc: 'box deltas (dx, dy, dw, dh), weights (1, 1, 1, 1)' },
        { name: 'anchors', elemType: 'float32', shape: ['R', 4], doc: 'anchors xyxy in input pixels, the rows of clsLogits' },
      );
      graphName = 'resvision_retinanet';
      break;
    }
    case 'segmentation': {
      const m = target.model;
      if (m instanceof SemanticFpn) {
        g.rename(emitSemanticFpn(ctx, m, images), 'logits');
        outputs.push({ name: 'logits', elemType: 'float32', shape: ['N', m.numClasses, 'H', 'W'], doc: 'per-pixel class logits, NCHW, input size (H, W multiples of 32)' });
        graphName = 'resvision_segmentation';
        break;
      }
      const feats = emitResNet(ctx, asResNet(m.backbone), images);
      const cls = m.classifier;
      const low = cls instanceof FCNHead ? emitFcnHead(ctx, cls, feats.C5!) : emitDeepLabV3Head(ctx, cls, feats.C5!);
      g.rename(emitUpsampleLike(ctx, low, images), 'logits');
      outputs.push({ name: 'logits', elemType: 'float32', shape: ['N', m.numClasses, 'H', 'W'], doc: 'per-pixel class logits, NCHW, input size' });
      if (m.auxClassifier) {
        g.rename(emitUpsampleLike(ctx, emitFcnHead(ctx, m.auxClassifier, feats.C4!), images), 'auxLogits');
        outputs.push({ name: 'auxLogits', elemType: 'float32', shape: ['N', m.numClasses, 'H', 'W'], doc: 'auxiliary head logits (C4), NCHW' });
      }
      graphName = 'resvision_segmentation';
      break;
    }
    default: {
      const never: never = target;
      throw new Error(`ONNX export: unknown target ${JSON.stringify(never)}`);
    }
  }
  const bytes = g.toModel({
    graphName,
    inputs,
    outputs,
    producerVersion: opts.producerVersion ?? '0',
    metadata: { ...opts.metadata, 'resvision.kind': target.kind },
  });
  return { bytes, inputs, outputs, numNodes: g.numNodes };
}
