/**
 * The file layout of VOC-style roots, apart from reading images: id lists (`ImageSets/<sub>/<split>.txt`, or every
 * file of a folder) and paths written in list files. Only `fs` and `path`, so that the evaluators' commands
 * (`eval-seg`) list files without loading an image decoder.
 */
import { existsSync, promises as fs } from 'fs';
import * as path from 'path';
import type { VocLayoutOptions } from './detection';

/**
 * Read an id list (`ImageSets/.../<split>.txt`): the first whitespace-separated token of each non-empty line.
 * @returns ids in file order with their 1-based line numbers.
 * @throws naming the file when it cannot be read.
 */
export async function readIdList(file: string): Promise<{ id: string; line: number }[]> {
  let txt: string;
  try {
    txt = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read id list '${file}': ${e instanceof Error ? e.message : String(e)}`);
  }
  const out: { id: string; line: number }[] = [];
  txt.split(/\r?\n/).forEach((l, i) => {
    const tok = l.trim().split(/\s+/)[0];
    if (tok) out.push({ id: tok, line: i + 1 });
  });
  return out;
}

/**
 * The ids of a VOC root: from `splitFile`, `ImageSets/<sub>/<split>.txt`, or every file with extension `ext` in
 * `listDir` (sorted by code point) when neither is given.
 */
export async function listVocIds(
  root: string, sub: 'Main' | 'Segmentation', opts: VocLayoutOptions, listDir: string, ext: string,
): Promise<{ ids: { id: string; line: number }[]; listFile: string }> {
  if (opts.splitFile || opts.split) {
    const listFile = opts.splitFile ? path.resolve(root, opts.splitFile) : path.join(root, 'ImageSets', sub, `${opts.split}.txt`);
    if (!opts.splitFile && !(await exists(listFile))) {
      const dir = path.dirname(listFile);
      const splits = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.txt')).map((n) => n.slice(0, -4)).sort();
      throw new Error(
        splits.length > 0
          ? `split '${opts.split}' not found: no '${listFile}'; the splits of '${dir}' are ${splits.join(', ')}`
          : `split '${opts.split}' not found: no '${listFile}' (is '${root}' the VOC root holding ImageSets/, Annotations/ and JPEGImages/?)`,
      );
    }
    return { ids: await readIdList(listFile), listFile };
  }
  let names: string[];
  try {
    names = await fs.readdir(listDir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it does not exist' : code === 'ENOTDIR' ? 'it is not a folder' : e instanceof Error ? e.message : String(e);
    const hint = sub === 'Segmentation'
      ? 'for another mask folder pass --masks-dir (data.splits.<name>.masksDir in a config)'
      : 'for other folder names pass --annotations-dir/--images-dir (data.annotationsDir/imagesDir in a config)';
    throw new Error(`cannot list '${listDir}' (no split given, so every '${ext}' file there is used): ${why}; ${hint}`);
  }
  const ids = names.filter((n) => n.toLowerCase().endsWith(ext) && !n.startsWith('.')).map((n) => n.slice(0, -ext.length)).sort();
  return { ids: ids.map((id) => ({ id, line: 0 })), listFile: listDir };
}

/** Whether `file` exists (any kind). */
export async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}

/**
 * Resolve a path written in a list file: as is when it exists (absolute) or exists relative to the root; otherwise
 * the longest trailing part of it that exists under the root (`/SegNet/CamVid/val/x.png` → `ROOT/val/x.png`).
 * @returns the resolved path, or undefined when nothing matches.
 */
export function rerootPath(root: string, written: string): string | undefined {
  if (path.isAbsolute(written) && existsSync(written)) return written;
  const parts = written.split(/[\\/]+/).filter((p) => p.length > 0);
  for (let k = 0; k < parts.length; k++) {
    const cand = path.join(root, ...parts.slice(k));
    if (existsSync(cand)) return cand;
  }
  return undefined;
}
