/** Semantic segmentation: FCN and DeepLabV3 heads, the model, its loss and its test-time inference. Re-exports only. */
export * from './deeplabv3_head';
export * from './dropout';
export * from './fcn_head';
export * from './inference';
export * from './losses';
export * from './model';
