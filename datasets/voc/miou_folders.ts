/**
 * mIoU of folders of label PNGs: lists the images (a folder, or a VOC / CamVid list file), reads ground-truth and
 * predicted PNGs ahead of use, decodes them as class indices with the one label-PNG decoder that training also
 * uses (`decodeIndexPng` of `datasets/pipeline/png_index.ts`), and feeds `SegmentationConfusion` (`miou.ts`).
 *
 * Reference: VOC devkit `VOCevalseg.m` (reads `SegmentationClass/<id>.png` and the results' `<id>.png`; PNG samples
 * are read as PIL's `np.array(Image.open(f))`).
 */
import { existsSync, promises as fs } from 'fs';
import * as path from 'path';
import { DEFAULT_MAX_LABEL_PNG_PIXELS, decodeIndexPng } from '../pipeline/png_index';
import { SegmentationConfusion, type SegmentationMetricOptions, type SegmentationMetrics } from './miou';
import { rerootPath } from './layout';

/** Options of `evaluateSegmentationFolders`. */
export interface SegmentationFolderOptions extends SegmentationMetricOptions {
  /** Ground-truth label PNGs `<gtDir>/<name>.png` (palette or grayscale: the samples are the classes). */
  gtDir: string;
  /** Predicted label PNGs `<predDir>/<name>.png` (palette or grayscale index PNGs, not colours). */
  predDir: string;
  /**
   * A list file, one image a line: a name (VOC `ImageSets/Segmentation/val.txt`: `<gtDir>/<name>.png`,
   * `<predDir>/<name>.png`), or an `image mask` path pair (CamVid/SegNet `val.txt`, `images/x.png labels/x.png`):
   * the ground truth is `<gtDir>/<mask file name>`, else the longest trailing part of the mask path found under
   * `gtDir` (foreign absolute paths re-rooted), and the prediction `<predDir>/<image file stem>.png` (the name
   * `resvision eval --out` writes). Default: every `.png` in `gtDir`, sorted.
   */
  listFile?: string;
  /** Files read ahead of decoding. Default 8. */
  readAhead?: number;
  /**
   * Refuse label PNGs of more pixels (checked on the header, before decoding; decompression bombs); warn above
   * half. Default `DEFAULT_MAX_LABEL_PNG_PIXELS` (twice PIL's `MAX_IMAGE_PIXELS`).
   */
  maxPixels?: number;
}

/** One image of a segmentation list: its name and the ground-truth and prediction files. */
export interface SegmentationListEntry {
  name: string;
  gt: string;
  pred: string;
}

/**
 * Read a segmentation list file (see `SegmentationFolderOptions.listFile`: names, or `image mask` path pairs;
 * blank lines skipped).
 * @returns one entry per line, in order.
 * @throws Error naming the file (and line) when it cannot be read, names no image, has a line of more than two
 *   fields, or a pair whose mask is found neither as `<gtDir>/<file name>` nor under `gtDir`.
 */
export async function readSegmentationList(listFile: string, gtDir: string, predDir: string): Promise<SegmentationListEntry[]> {
  let text: string;
  try {
    text = await fs.readFile(listFile, 'utf-8');
  } catch (e) {
    throw new Error(`cannot read list file '${listFile}': ${e instanceof Error ? e.message : String(e)}`);
  }
  const out: SegmentationListEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const tokens = lines[i].trim().split(/\s+/).filter((t) => t.length > 0);
    if (tokens.length === 0) continue;
    if (tokens.length === 1) {
      // VOC lists hold bare ids; accept an id written with its image extension too.
      const name = tokens[0].replace(/\.(jpe?g|png)$/i, '');
      out.push({ name, gt: path.join(gtDir, `${name}.png`), pred: path.join(predDir, `${name}.png`) });
    } else if (tokens.length === 2) {
      const [image, mask] = tokens;
      const name = path.basename(image.replace(/\\/g, '/')).replace(/\.[^.]*$/, '');
      const byName = path.join(gtDir, path.basename(mask.replace(/\\/g, '/')));
      const gt = existsSync(byName) ? byName : rerootPath(gtDir, mask);
      if (!gt) {
        throw new Error(`list file '${listFile}', line ${i + 1}: ground truth '${mask}' found neither as '${byName}' nor under '${gtDir}'`);
      }
      out.push({ name, gt, pred: path.join(predDir, `${name}.png`) });
    } else {
      throw new Error(`list file '${listFile}', line ${i + 1}: expected a name or an 'image mask' pair, got ${tokens.length} fields`);
    }
  }
  if (out.length === 0) throw new Error(`list file '${listFile}' names no image`);
  return out;
}

/**
 * Evaluate a folder of predicted label PNGs against a folder of ground-truth label PNGs (one confusion matrix
 * over all images, see `SegmentationConfusion`). PNG samples are read as indices (palette indices, gray levels):
 * PIL's `np.array(Image.open(f))`, as the VOC devkit and torchvision read VOC masks.
 *
 * @returns the metrics, the image names in evaluation order, the ground-truth pixels with the ignore index and the
 *   largest ground-truth class value seen (to spot a void value read as a class).
 * @throws Error naming the file when the list is empty or unreadable, a prediction is missing, a PNG cannot be
 *   decoded or is not single-channel, a prediction's size differs from its ground truth's;
 *   GroundTruthValueError (naming the file) when a ground-truth value is neither a class nor the ignore index.
 * Reference: VOC devkit `VOCevalseg.m` (reads `SegmentationClass/<id>.png` and the results' `<id>.png`).
 */
export async function evaluateSegmentationFolders(
  opts: SegmentationFolderOptions,
): Promise<{ metrics: SegmentationMetrics; names: string[]; ignoredPixels: number; maxGroundTruthClass: number }> {
  let files: SegmentationListEntry[];
  if (opts.listFile) {
    files = await readSegmentationList(opts.listFile, opts.gtDir, opts.predDir);
  } else {
    let entries: string[];
    try {
      entries = await fs.readdir(opts.gtDir);
    } catch (e) {
      throw new Error(`cannot list ground-truth folder '${opts.gtDir}': ${e instanceof Error ? e.message : String(e)}`);
    }
    const names = entries.filter((f) => f.toLowerCase().endsWith('.png')).map((f) => f.slice(0, -4)).sort();
    if (names.length === 0) throw new Error(`ground-truth folder '${opts.gtDir}' holds no .png file`);
    files = names.map((n) => ({ name: n, gt: path.join(opts.gtDir, `${n}.png`), pred: path.join(opts.predDir, `${n}.png`) }));
  }
  const missingGt = files.filter((f) => !existsSync(f.gt));
  if (missingGt.length === files.length) {
    throw new Error(
      `ground truth: none of the ${files.length} label PNGs is in '${opts.gtDir}' (first: '${files[0].gt}'); --gt must be the ` +
        `folder of label PNGs (VOC: SegmentationClass/)`,
    );
  }
  const missingPred = files.filter((f) => existsSync(f.gt) && !existsSync(f.pred));
  if (missingPred.length > 0) {
    throw new Error(
      `${missingPred.length} of ${files.length} predictions are missing in '${opts.predDir}' (first: '${missingPred[0].pred}'); ` +
        (opts.listFile ? 'every image of the list needs one' : 'to evaluate a subset, pass --list FILE naming the images predicted'),
    );
  }
  const readFile = async (file: string, what: string): Promise<Uint8Array> => {
    try {
      const b = await fs.readFile(file);
      return new Uint8Array(b.buffer, b.byteOffset, b.length);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new Error(`${what} '${file}' is missing`);
      throw new Error(`cannot read ${what} '${file}': ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const load = (f: (typeof files)[number]): Promise<[Uint8Array, Uint8Array]> =>
    Promise.all([readFile(f.gt, 'ground truth'), readFile(f.pred, 'prediction')]);
  const ahead = Math.max(1, opts.readAhead ?? 8);
  const pending: Promise<[Uint8Array, Uint8Array]>[] = [];
  // Keep rejections from surfacing as unhandled while they wait their turn; each is awaited in order below.
  const queue = (i: number): void => {
    const p = load(files[i]);
    p.catch(() => undefined);
    pending.push(p);
  };
  const conf = new SegmentationConfusion(opts);
  for (let i = 0; i < Math.min(ahead, files.length); i++) queue(i);
  for (let i = 0; i < files.length; i++) {
    const [gtBytes, predBytes] = await pending[i];
    delete pending[i];
    if (i + ahead < files.length) queue(i + ahead);
    const f = files[i];
    const gt = decodeLabelPng(gtBytes, f.gt, opts.maxPixels);
    const pred = decodeLabelPng(predBytes, f.pred, opts.maxPixels);
    if (gt.height !== pred.height || gt.width !== pred.width) {
      throw new Error(
        `prediction '${f.pred}' is ${pred.height}x${pred.width} (HxW), its ground truth '${f.gt}' ${gt.height}x${gt.width}: ` +
          'write predictions at the ground truth\'s size (as `resvision eval --out` does)',
      );
    }
    conf.update(gt.data, pred.data, `ground truth '${f.gt}'`);
  }
  return { metrics: conf.compute(), names: files.map((f) => f.name), ignoredPixels: conf.ignoredPixels, maxGroundTruthClass: conf.maxGroundTruthClass };
}

/**
 * Decode a label PNG to its samples (palette indices or gray levels): `decodeIndexPng` of
 * `datasets/pipeline/png_index.ts`, the one label-PNG decoder that training reads masks with too.
 * @param bytes the file's bytes. @param file path, for error messages.
 * @param maxPixels refuse images of more pixels, from the header, before inflating (default: PIL's rule).
 * @returns `[H * W]` samples (a new array) with H and W.
 * @throws Error naming the file when it is not a PNG, not single-channel, corrupt, or larger than `maxPixels`.
 */
export function decodeLabelPng(
  bytes: Uint8Array, file: string, maxPixels = DEFAULT_MAX_LABEL_PNG_PIXELS,
): { data: Uint8Array | Uint16Array; height: number; width: number } {
  const { data, height, width } = decodeIndexPng(bytes, file, maxPixels);
  return { data, height, width };
}
