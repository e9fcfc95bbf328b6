/**
 * resvision's portable core (`resvision/core`): models, heads, post-processing, evaluators, weight parsing and ONNX
 * export, with no Node built-in module (fs, path, zlib, worker_threads, os) and no sharp in its import graph, so
 * that it bundles for browsers (test/core/bundle.test.ts checks it with esbuild). Weights load from bytes, a URL
 * or a `tf.io` handler (`loadModelWeights`). Re-exports only.
 */
// tfjs-core has no backend of its own: the pure-JS cpu backend is always there (wasm or WebGPU can be registered too).
import '@tensorflow/tfjs-backend-cpu';
// Gradients of the core ops (the @tensorflow/tfjs bundle registers them; tfjs-core alone does not, and ships them
// only as ES modules Node cannot load: scripts/build_tfjs_gradients.mjs bundles them).
import './vendor/tfjs_core_gradients';

export * from './backbone/features';
export * from './backbone/resnet';
export * from './nn/module';
export * from './nn/layers';
export { conv2d } from './ops/conv';
export type { Conv2dOpOptions } from './ops/conv';
export * from './ops/boxes';
export * from './ops/iou';
export * from './ops/nms';
export * from './common/seed';
export * from './weights/dtypes';
export * from './weights/hash_init';
export * from './weights/safetensors_bytes';
export { MAX_HEADER_BYTES } from './weights/safetensors_header';
export type { SafetensorsTensorInfo } from './weights/safetensors_header';
export * from './weights/model_weights';
export * from './export/onnx/graph';
export * from './export/onnx/export';
export * from '../heads/classification/model';
export * from '../heads/classification/linear_head';
export * from '../heads/classification/losses';
export * from '../heads/necks/fpn';
export * from '../heads/detection/anchors';
export * from '../heads/detection/box_coder';
export * from '../heads/detection/model';
export * from '../heads/detection/postprocess';
export * from '../heads/detection/retinanet_head';
export * as segmentation from '../heads/segmentation';
export * from '../datasets/coco/cocoeval';
export * from '../datasets/coco/mask_api';
export * from '../datasets/voc/voc_ap';
export * from '../datasets/image_folder/classification_eval';
export * from './inference';
