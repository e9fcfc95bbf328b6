/** Semantic segmentation: FCN, DeepLabV3 and Panoptic FPN semantic heads, the models, their loss and test-time inference. Re-exports only. */
export * from './deeplabv3_head';
export * from './dropout';
export * from './fcn_head';
export * from './inference';
export * from './losses';
export * from './model';
export * from './sem_seg_fpn_head';
export * from './semantic_fpn';
