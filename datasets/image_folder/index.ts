/** ImageFolder classification datasets and their evaluator. Re-exports only. */
export * from './image_folder';
export * from './classification_eval';
