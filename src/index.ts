/**
 * resvision's public API (re-exports only). See the README for a tour.
 */
export * from './backbone/features';
export * from './backbone/resnet';
export * from './nn/module';
export * from './nn/layers';
export * from './nn/task_model';
export * from './common/log';
export { conv2d } from './ops/conv';
export type { Conv2dOpOptions } from './ops/conv';
export * from './engine/backend';
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
export * as segmentation from '../heads/segmentation';
export * as datasets from './datasets_api';
export * from './tasks/harness';
export * from './tasks/classification';
export * from './tasks/features';
