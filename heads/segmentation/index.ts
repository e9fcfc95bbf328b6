/** Semantic segmentation: FCN, DeepLabV3 and Panoptic FPN semantic heads, the models and their loss. Re-exports only. */
export * from './deeplabv3_head';
export * from './dropout';
export * from './fcn_head';
export * from './losses';
export * from './model';
export * from './sem_seg_fpn_head';
export * from './semantic_fpn';
