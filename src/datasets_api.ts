/** Dataset adapters, the image pipeline, the loader and the evaluators, exported as `datasets` by the package. */
export * from '../datasets/types';
export * from '../datasets/pipeline';
export * from '../datasets/loader';
export * from '../datasets/image_folder';
export * as coco from '../datasets/coco';
export * as voc from '../datasets/voc';
export * from '../datasets/collate_detection';
export * from '../datasets/collate_segmentation';
export * from '../datasets/check_data';
export * from '../datasets/evaluator';
export * from '../datasets/detection_split';
export * from '../datasets/detection_evaluator';
export * from '../datasets/coco/results';
export { SegmentationEvaluator } from '../datasets/voc/segmentation_evaluator';
