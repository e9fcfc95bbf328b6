/** COCO dataset family: raw JSON types, the COCO API, mask utilities and the COCO evaluator. */
export * from './types';
export * from './mask_api';
export * from './coco';
export * from './cocoeval';
export * from './dataset';
