/** Semantic segmentation: FCN and DeepLabV3 heads, the model and its loss. Re-exports only. */
export * from './deeplabv3_head';
export * from './dropout';
export * from './fcn_head';
export * from './losses';
export * from './model';
