/**
 * Short, bounded renderings of untrusted values for error messages. `JSON.stringify` recurses once per nesting
 * level and copies the whole value, so a message built from a value of a bad input file (a header entry nested
 * 100,000 levels deep, a 50 MB string) would itself fail with `RangeError: Maximum call stack size exceeded` or
 * flood the terminal. These helpers stop at a depth and a length instead.
 */

/** Default longest rendering, in characters (an ellipsis marks the cut). */
export const PREVIEW_MAX_CHARS = 80;
/** Nesting levels rendered before `…` stands for the rest. */
const PREVIEW_MAX_DEPTH = 4;
/** Array items and object keys rendered per level before `…`. */
const PREVIEW_MAX_ITEMS = 8;

/**
 * JSON-like text of `value`, at most `maxChars` characters, never recursing more than a few levels: strings are
 * quoted as JSON, numbers as JSON except `Infinity`/`NaN` (spelled out), bigints with an `n` suffix, Maps as
 * objects, typed arrays as `Uint8Array(n)`.
 * @param value any value (cycles are safe: the depth bound stops them).
 * @param maxChars longest result; longer renderings are cut and end in `…`.
 */
export function previewValue(value: unknown, maxChars = PREVIEW_MAX_CHARS): string {
  const out = render(value, 0, maxChars + 1);
  return out.length > maxChars ? `${out.slice(0, Math.max(0, maxChars - 1))}…` : out;
}

function render(v: unknown, depth: number, budget: number): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > budget ? v.slice(0, budget) : v);
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : String(v);
    case 'bigint':
      return `${v}n`;
    case 'boolean':
      return String(v);
    case 'undefined':
      return 'undefined';
    case 'object':
      break;
    default:
      return typeof v;
  }
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as { length?: number }).length ?? v.byteLength})`;
  const isArray = Array.isArray(v);
  const entries: [string | undefined, unknown][] = isArray
    ? (v as unknown[]).slice(0, PREVIEW_MAX_ITEMS + 1).map((x) => [undefined, x])
    : v instanceof Map
      ? [...take(v.entries(), PREVIEW_MAX_ITEMS + 1)].map(([k, x]) => [String(k), x])
      : v instanceof Set
        ? [...take(v.values(), PREVIEW_MAX_ITEMS + 1)].map((x) => [undefined, x])
        : [...take(keysOf(v as object), PREVIEW_MAX_ITEMS + 1)].map((k) => [k, (v as Record<string, unknown>)[k]]);
  const [open, close] = isArray || v instanceof Set ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0) return open + close;
  if (depth >= PREVIEW_MAX_DEPTH) return `${open}…${close}`;
  const parts: string[] = [];
  let used = 2;
  for (let i = 0; i < entries.length; i++) {
    if (i === PREVIEW_MAX_ITEMS || used > budget) {
      parts.push('…');
      break;
    }
    const [k, x] = entries[i];
    const item = (k === undefined ? '' : `${JSON.stringify(k.length > budget ? k.slice(0, budget) : k)}:`) + render(x, depth + 1, budget - used);
    parts.push(item);
    used += item.length + 1;
  }
  return open + parts.join(',') + close;
}

function* take<T>(it: Iterable<T>, n: number): Generator<T> {
  if (n <= 0) return;
  let i = 0;
  for (const x of it) {
    yield x;
    if (++i >= n) return;
  }
}

function* keysOf(o: object): Generator<string> {
  // for..in stops early without listing every key of a huge object.
  for (const k in o) if (Object.prototype.hasOwnProperty.call(o, k)) yield k;
}
