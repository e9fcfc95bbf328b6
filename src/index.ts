/**
 * resvision's public API (re-exports). See the README for a tour.
 */
// tfjs-core has no backend of its own: the pure-JS cpu backend is always there (`selectBackend` picks a faster one).
import '@tensorflow/tfjs-backend-cpu';
// Gradients of the core ops (the @tensorflow/tfjs bundle registers them; tfjs-core alone does not, and ships them
// only as ES modules Node cannot load: scripts/build_tfjs_gradients.mjs bundles them).
import './vendor/tfjs_core_gradients';

export * from './backbone/features';
export * from './backbone/resnet';
export * from './nn/module';
export * from './nn/layers';
export * from './nn/task_model';
export * from './common/log';
export { conv2d } from './ops/conv';
export type { Conv2dOpOptions } from './ops/conv';
export { roiAlign } from './ops/roi_align';
export type { RoIAlignOptions } from './ops/roi_align';
export * from './engine/backend';
export { availableThreads, checkThreadedWasmPackage } from './engine/wasm_threads';
export { isSoftwareAdapter, listGpuAdapters, releaseWebGpu } from './engine/webgpu';
export type { GpuAdapterReport } from './engine/webgpu';
export * from './common/seed';
export * from './engine/optimizer';
export * from './engine/lr_schedule';
export * from './engine/trainer';
export * from './engine/checkpoint';
export * from './engine/npy';
export * from './weights';
export * from './config/types';
export { loadConfig, validateConfig, ConfigError, scaledLr } from './config/load';
export * from '../heads/classification/model';
export * from '../heads/classification/linear_head';
export * from '../heads/classification/losses';
export * from '../heads/necks/fpn';
export * from '../heads/detection/model';
export * from '../heads/detection/postprocess';
export * from '../heads/detection/faster_rcnn';
export * as segmentation from '../heads/segmentation';
export * as datasets from './datasets_api';
export * from './tasks/harness';
export * from './tasks/classification';
export * from './tasks/features';
export * from './export/onnx/export';
export { decodeOnnxModel, ONNX_IR_VERSION, ONNX_OPSET } from './export/onnx/graph';
export * from './export/onnx/checkpoint';
export * from './engine/onnx_runtime';
export * from './weights/model_weights';
export { SafetensorsBuffer } from './weights/safetensors_bytes';
export {
  toRgbImage, ImageInputError, openCheckpointBytes, openCheckpointSource, runConfigOf, restoreInto,
  Detector, detectorFromCheckpoint, Classifier, classifierFromCheckpoint, classificationEvalInput,
  Segmenter, segmenterFromCheckpoint, FeatureExtractor, loadBackboneWeights,
} from './inference';
export type {
  ImageInput, PixelBuffer, BrowserPixelSource, CheckpointSource, CheckpointLoadOptions, OpenedCheckpoint,
  DetectionModel, DetectOptions, ImageDecoder, ClassScore, ClassifyOptions, SegmentClass, Segmentation,
  ExtractedFeatures, FeatureExtractorOptions,
} from './inference';
export * from './inference/node';
