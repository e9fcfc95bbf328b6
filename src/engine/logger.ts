/**
 * Training metrics as JSON Lines: one JSON object per line, appended as the run goes (detectron2's
 * `JSONWriter`, metrics.json). A JSONL file is append-only by design, so a crash loses at most the line being written
 * and a resumed run appends to the same file.
 */
import * as fs from 'fs';
import * as path from 'path';

/** One record: plain JSON values (numbers, strings, booleans, nested records). Non-finite numbers become `null`. */
export type LogRecord = Record<string, unknown>;

/** Appends records to a `.jsonl` file; without a file it only keeps the records in memory (`records`). */
export class JsonlLogger {
  /** The file written, or `undefined` for an in-memory logger. */
  readonly file?: string;
  /** Every record logged by this instance, in order. */
  readonly records: LogRecord[] = [];

  /**
   * @param file path of the `.jsonl` file (its folder is created); `undefined` keeps records in memory only.
   */
  constructor(file?: string) {
    this.file = file;
    if (file) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  }

  /**
   * Append one record as one line.
   * @throws Error naming the file when it cannot be written.
   */
  log(record: LogRecord): void {
    this.records.push(record);
    if (!this.file) return;
    const line = JSON.stringify(record, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
    try {
      fs.appendFileSync(this.file, line + '\n');
    } catch (e) {
      throw new Error(`cannot append to log file ${this.file}: ${(e as Error).message}`);
    }
  }
}

/**
 * Read a JSONL log back.
 * @returns the records in file order.
 * @throws Error naming the file and the 1-based line number of a line that is not a JSON object.
 */
export function readJsonl(file: string): LogRecord[] {
  const out: LogRecord[] = [];
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        throw new Error(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
      }
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${file}:${i + 1}: expected a JSON object`);
      out.push(v as LogRecord);
    });
  return out;
}
