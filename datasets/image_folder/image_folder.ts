/**
 * ImageFolder: a classification dataset laid out as `root/<class>/**\/<image>`, one sub-folder per class.
 *
 * Same listing as torchvision's `ImageFolder`: classes are the sub-folder names sorted by code point, label =
 * index in that order; files are found recursively in each class folder (following symlinks) and kept when their
 * lower-cased name ends with one of `IMG_EXTENSIONS`; samples are ordered class by class, then by folder, then by
 * file name (torchvision sorts `os.walk` and each folder's file names).
 * Differences, both reported through `skipped` and the `onSkipped` warning rather than silently: files with another
 * extension (e.g. `imageNotFound.gif` in hymenoptera, which torchvision drops too) and hidden files (`.name`,
 * macOS `._x.jpg` resource forks, which torchvision would list and then fail to open).
 *
 * Reference: torchvision `datasets/folder.py` (`find_classes`, `make_dataset`, `IMG_EXTENSIONS`, `ImageFolder`).
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import fg from 'fast-glob';
import type { SeedSequence } from '../../src/common/seed';
import type { ClassificationItem, ClassificationTransform } from '../pipeline/classification_presets';
import type { MapDataset } from '../loader';
import type { ClassificationSample } from '../types';

/** torchvision's `IMG_EXTENSIONS` (lower case, with the dot). GIF is not among them. */
export const IMG_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'];

/** A file left out of the listing, and why. */
export interface SkippedFile {
  /** Absolute path. */
  file: string;
  reason: string;
}

/** Options of `scanImageFolder`. */
export interface ImageFolderOptions {
  /** Extensions to keep, lower case with the dot. Default `IMG_EXTENSIONS`. */
  extensions?: readonly string[];
  /**
   * Called once with the files left out (only when there are some). Default: one `console.warn` line with the
   * count and the first few paths. Pass `() => {}` to silence it; the list is also in `ImageFolder.skipped`.
   */
  onSkipped?: (skipped: SkippedFile[]) => void;
}

/** The listing of an ImageFolder root. */
export interface ImageFolder {
  /** Absolute root path. */
  root: string;
  /** Class names (sub-folder names) sorted; `classes[label]` is the name of `label`. K = classes.length. */
  classes: string[];
  /** Class name → label 0..K-1. */
  classToIndex: Record<string, number>;
  /** Every kept image with its label, in torchvision's order. Files are absolute paths. */
  samples: ClassificationItem[];
  /** Files under class folders that were left out. */
  skipped: SkippedFile[];
}

function defaultOnSkipped(skipped: SkippedFile[]): void {
  const shown = skipped.slice(0, 3).map((s) => `${s.file} (${s.reason})`).join(', ');
  console.warn(`ImageFolder: skipped ${skipped.length} file(s): ${shown}${skipped.length > 3 ? ', ...' : ''}`);
}

/** Sort key of torchvision's `sorted(os.walk(...))` then `sorted(fnames)`: folder first, then file name. */
function compareWalkOrder(a: string, b: string): number {
  const da = path.dirname(a);
  const db = path.dirname(b);
  if (da !== db) return da < db ? -1 : 1;
  const fa = path.basename(a);
  const fb = path.basename(b);
  return fa < fb ? -1 : fa > fb ? 1 : 0;
}

/**
 * List an ImageFolder root: classes from its sub-folders, images from each class folder.
 * @param root - folder whose sub-folders are the classes (e.g. `hymenoptera_data/train`).
 * @returns the listing; no image is opened.
 * @throws when `root` is not a folder, has no class sub-folder, or a class folder has no image with an allowed
 * extension (naming the folder(s) and the extensions, as torchvision's `make_dataset`).
 * Reference: torchvision `datasets/folder.py` `find_classes`, `make_dataset`.
 */
export async function scanImageFolder(root: string, opts: ImageFolderOptions = {}): Promise<ImageFolder> {
  const absRoot = path.resolve(root);
  const extensions = (opts.extensions ?? IMG_EXTENSIONS).map((e) => e.toLowerCase());
  let entries: import('fs').Dirent[];
  try {
    entries = await fs.readdir(absRoot, { withFileTypes: true });
  } catch (e) {
    throw new Error(`ImageFolder: cannot list root '${absRoot}': ${e instanceof Error ? e.message : String(e)}`);
  }
  const classes: string[] = [];
  for (const ent of entries) {
    let isDir = ent.isDirectory();
    if (ent.isSymbolicLink()) isDir = (await fs.stat(path.join(absRoot, ent.name)).catch(() => null))?.isDirectory() ?? false;
    if (isDir) classes.push(ent.name);
  }
  classes.sort();
  if (classes.length === 0) throw new Error(`ImageFolder: no class sub-folder in '${absRoot}'`);
  const classToIndex: Record<string, number> = {};
  classes.forEach((c, i) => { classToIndex[c] = i; });

  const samples: ClassificationItem[] = [];
  const skipped: SkippedFile[] = [];
  const empty: string[] = [];
  for (const [label, cls] of classes.entries()) {
    const dir = path.join(absRoot, cls);
    const files = await fg('**/*', { cwd: dir, absolute: true, onlyFiles: true, dot: true, followSymbolicLinks: true });
    files.sort(compareWalkOrder);
    let kept = 0;
    for (const file of files) {
      const rel = path.relative(dir, file);
      const lower = path.basename(file).toLowerCase();
      if (rel.split(path.sep).some((part) => part.startsWith('.'))) {
        skipped.push({ file, reason: 'hidden file' });
      } else if (!extensions.some((ext) => lower.endsWith(ext))) {
        skipped.push({ file, reason: `extension not in ${extensions.join(' ')}` });
      } else {
        samples.push({ file, label });
        kept++;
      }
    }
    if (kept === 0) empty.push(dir);
  }
  if (empty.length > 0) {
    throw new Error(`ImageFolder: no valid image in class folder(s) ${empty.map((d) => `'${d}'`).join(', ')}; ` +
      `supported extensions: ${extensions.join(', ')}`);
  }
  if (skipped.length > 0) (opts.onSkipped ?? defaultOnSkipped)(skipped);
  return { root: absRoot, classes, classToIndex, samples, skipped };
}

/**
 * Load sample `index` of an ImageFolder through a transform.
 * @throws RangeError for an index outside 0..samples.length-1; the transform's errors (naming the file) otherwise.
 */
export function loadImageFolderSample(
  folder: ImageFolder, index: number, transform: ClassificationTransform, rng: SeedSequence,
): Promise<ClassificationSample<Float32Array>> {
  if (!(Number.isInteger(index) && index >= 0 && index < folder.samples.length)) {
    throw new RangeError(`ImageFolder '${folder.root}': index ${index} outside 0..${folder.samples.length - 1}`);
  }
  return transform(folder.samples[index], rng);
}

/**
 * An ImageFolder as a `MapDataset` for `DataLoader`: `get(i, rng)` = `transform(samples[i], rng)`.
 * Holds only the file list.
 */
export function imageFolderDataset(
  folder: ImageFolder, transform: ClassificationTransform,
): MapDataset<ClassificationSample<Float32Array>> {
  return {
    length: folder.samples.length,
    get: (index, rng) => loadImageFolderSample(folder, index, transform, rng),
  };
}
