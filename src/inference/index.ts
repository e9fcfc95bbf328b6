/**
 * The inference API (portable part, exported by `resvision/core`): load a model trained by `resvision train` from
 * bytes, a URL or a `tf.io.IOHandler` and run it on images (tensors, `ImageData`-like pixels, browser elements),
 * with the CLI's preprocessing and post-processing. Re-exports only; the Node entry adds paths (`./node.ts`).
 */
export * from './image_input';
export * from './checkpoint_source';
export * from './detector';
export * from './classifier';
export * from './segmenter';
export * from './feature_extractor';
