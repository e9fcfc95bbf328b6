/**
 * A minimal zip writer for tests and the format fuzzer (scripts/fuzz/formats.ts): stored or deflated entries,
 * optionally with a declared size that lies.
 */
import * as zlib from 'zlib';

/** One entry: its name, its bytes, and optionally the uncompressed size the headers should claim. */
export interface ZipEntrySpec {
  name: string;
  data: Uint8Array;
  /** The uncompressed size the headers claim (default: the data's length). */
  declaredSize?: number;
  /** Deflate the data (method 8) instead of storing it (method 0). */
  deflate?: boolean;
}

/**
 * The bytes of a zip archive holding `entries`, stored (method 0, as `torch.save` writes its archives) or deflated.
 * Reference: PKWARE APPNOTE.TXT 4.3.7 (local header), 4.3.12 (central directory), 4.3.16 (end record).
 */
export function zipBytes(entries: ZipEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const crc = zlib.crc32(e.data);
    const body = e.deflate ? zlib.deflateRawSync(e.data) : Buffer.from(e.data);
    const size = e.declaredSize ?? e.data.length;
    const stored = e.deflate ? body.length : size;
    const method = e.deflate ? 8 : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, body);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(stored, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** Byte offset of `entryName`'s data in the archive `zip` (after its local header). */
export function entryDataOffset(zip: Buffer, entryName: string): number {
  const name = Buffer.from(entryName, 'utf8');
  for (let i = zip.indexOf(name); i >= 0; i = zip.indexOf(name, i + 1)) {
    if (i >= 30 && zip.readUInt32LE(i - 30) === 0x04034b50 && zip.readUInt16LE(i - 4) === name.length) {
      return i + name.length + zip.readUInt16LE(i - 2);
    }
  }
  throw new Error(`no local header for '${entryName}'`);
}
