/** Pascal VOC dataset family: XML parsing, detection and segmentation adapters, the VOC→COCO converter, VOC AP, mIoU. Re-exports only. */
export * from './xml';
export * from './detection';
export * from './segmentation';
export * from './convert_voc2coco';
export * from './voc_ap';
export * from './miou';
export * from './miou_folders';
