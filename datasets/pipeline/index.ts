/** Image pipeline: decode, geometric transforms, normalization, classification presets. Re-exports only. */
export * from './decode';
export * from './resample';
export * from './geometry';
export * from './transforms';
export * from './normalize';
export * from './classification_presets';
export * from './png_index';
export * from './detection_presets';
export * from './segmentation_presets';
