/**
 * Default pixel limit of a label PNG: twice PIL's `Image.MAX_IMAGE_PIXELS` (89,478,485). PIL warns
 * (`DecompressionBombWarning`) above `MAX_IMAGE_PIXELS` and refuses (`DecompressionBombError`) above twice that; we
 * warn above half the limit and refuse above it. A few kilobytes of deflate can claim gigabytes of pixels.
 */
export const DEFAULT_MAX_LABEL_PNG_PIXELS = 2 * 89_478_485;
