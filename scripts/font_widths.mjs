/**
 * Prints the advance widths of a TrueType font for ASCII 32..126 (the table `DEJAVU_ADVANCE` in
 * src/common/svg_chart.ts): glyph ids from the Windows Unicode BMP `cmap` subtable (format 4), widths from `hmtx`,
 * units per em from `head` (the OpenType spec, https://learn.microsoft.com/typography/opentype/spec/).
 * Usage: node scripts/font_widths.mjs [fonts/DejaVuSans.ttf]
 */
import fs from 'node:fs';

const file = process.argv[2] ?? new URL('../fonts/DejaVuSans.ttf', import.meta.url);
const b = fs.readFileSync(file);
const tables = {};
for (let i = 0; i < b.readUInt16BE(4); i++) {
  const o = 12 + 16 * i;
  tables[b.toString('latin1', o, o + 4)] = b.readUInt32BE(o + 8);
}
const unitsPerEm = b.readUInt16BE(tables.head + 18);
const numberOfHMetrics = b.readUInt16BE(tables.hhea + 34);
// Glyphs past numberOfHMetrics share the last advance width.
const advance = (glyph) => b.readUInt16BE(tables.hmtx + 4 * Math.min(glyph, numberOfHMetrics - 1));

let sub = -1;
for (let i = 0; i < b.readUInt16BE(tables.cmap + 2); i++) {
  const rec = tables.cmap + 4 + 8 * i;
  if (b.readUInt16BE(rec) === 3 && b.readUInt16BE(rec + 2) === 1) sub = tables.cmap + b.readUInt32BE(rec + 4);
}
if (sub < 0 || b.readUInt16BE(sub) !== 4) throw new Error(`${file}: no format-4 (3, 1) cmap subtable`);
const segCountX2 = b.readUInt16BE(sub + 6);
const endCodes = sub + 14;
const startCodes = endCodes + segCountX2 + 2;
const idDeltas = startCodes + segCountX2;
const idRangeOffsets = idDeltas + segCountX2;

/** The glyph id of character code `c` (0: missing glyph). */
function glyphOf(c) {
  for (let s = 0; s < segCountX2 / 2; s++) {
    if (c > b.readUInt16BE(endCodes + 2 * s)) continue;
    const start = b.readUInt16BE(startCodes + 2 * s);
    if (c < start) return 0;
    const delta = b.readInt16BE(idDeltas + 2 * s);
    const rangeOffset = b.readUInt16BE(idRangeOffsets + 2 * s);
    if (rangeOffset === 0) return (c + delta) & 0xffff;
    const g = b.readUInt16BE(idRangeOffsets + 2 * s + rangeOffset + 2 * (c - start));
    return g === 0 ? 0 : (g + delta) & 0xffff;
  }
  return 0;
}

const widths = [];
for (let c = 32; c < 127; c++) widths.push(advance(glyphOf(c)));
process.stdout.write(`${JSON.stringify({ unitsPerEm, firstCode: 32, widths })}\n`);
