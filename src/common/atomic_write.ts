/**
 * Writing a file so that a reader never sees it half written and a failure never destroys the previous version:
 * the bytes go to a temporary file in the same folder (same file system, so the rename is atomic on POSIX), which
 * is then renamed over the target. On failure the temporary file is removed and the target is untouched.
 *
 * Reference: the write-to-temp-then-rename pattern of `os.replace` (Python) and `write-file-atomic` (npm).
 */
import * as fs from 'fs';
import * as path from 'path';

let counter = 0;

/** A temporary name beside `file`, unique within this process (pid and a counter). */
function tempName(file: string): string {
  const abs = path.resolve(file);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.${process.pid}.${counter++}.tmp`);
}

function cannotWrite(file: string, e: unknown): Error {
  const err = new Error(`cannot write '${file}': ${e instanceof Error ? e.message : String(e)}`);
  (err as Error & { cause?: unknown }).cause = e;
  return err;
}

/**
 * Write `data` to `file` atomically (synchronous), creating the folder when needed.
 * @throws Error naming the file when it cannot be written; the previous file, if any, is kept.
 */
export function writeFileAtomicSync(file: string, data: string | NodeJS.ArrayBufferView): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = tempName(file);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw cannotWrite(file, e);
  }
}

/**
 * Let `write` produce `file` atomically: it receives a temporary path beside `file` and writes there (an encoder
 * such as sharp's `toFile`); the result is then renamed over `file`.
 * @throws Error naming the file when `write` or the rename fails; the previous file, if any, is kept.
 */
export async function writeAtomicWith(file: string, write: (tmp: string) => Promise<unknown>): Promise<void> {
  await fs.promises.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = tempName(file);
  try {
    await write(tmp);
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw cannotWrite(file, e);
  }
}

/**
 * Write `data` to `file` atomically, creating the folder when needed.
 * @throws Error naming the file when it cannot be written; the previous file, if any, is kept.
 */
export function writeFileAtomic(file: string, data: string | NodeJS.ArrayBufferView): Promise<void> {
  return writeAtomicWith(file, (tmp) => fs.promises.writeFile(tmp, data));
}

/**
 * Write a JSON value to `file` atomically (compact JSON, as `JSON.stringify(value)`).
 * @throws Error naming the file when it cannot be written.
 */
export function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  return writeFileAtomic(file, JSON.stringify(value));
}
