/** Pascal VOC's class names (no file format, no decoder: evaluators and configs name them without loading either). */

/** The 20 Pascal VOC object classes, in the devkit's order (label i = index i; background not counted). */
export const VOC_CLASSES: readonly string[] = [
  'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
];

/** VOC segmentation classes: `background` (0) then the 20 object classes; K = 21 (background counted). */
export const VOC_SEG_CLASSES: readonly string[] = ['background', ...VOC_CLASSES];
