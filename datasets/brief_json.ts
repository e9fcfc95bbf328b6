/**
 * A short, safe rendering of a JSON value for error messages: bounded depth, bounded length, never recursing
 * deeper than a few levels (`JSON.stringify` overflows the call stack on values nested a few thousand levels deep,
 * which a mutated or malicious file can hold).
 */

/**
 * Render `v` as JSON text, cut to about `maxChars` characters: arrays and objects deeper than `maxDepth` become
 * `[...]` / `{...}`, long strings and lists are cut with `...`.
 * @param v - any value parsed from JSON (or undefined).
 * @returns the text; `undefined` for undefined.
 */
export function briefJson(v: unknown, maxChars = 80, maxDepth = 3): string {
  const out = render(v, maxDepth, maxChars);
  return out.length > maxChars ? `${out.slice(0, maxChars - 3)}...` : out;
}

function render(v: unknown, depth: number, budget: number): string {
  if (v === undefined) return 'undefined';
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > budget ? `${v.slice(0, budget)}...` : v);
  if (Array.isArray(v)) {
    if (depth <= 0) return v.length === 0 ? '[]' : '[...]';
    const parts: string[] = [];
    let used = 2;
    for (let i = 0; i < v.length; i++) {
      if (used > budget) {
        parts.push('...');
        break;
      }
      const p = render(v[i], depth - 1, budget - used);
      parts.push(p);
      used += p.length + 1;
    }
    return `[${parts.join(',')}]`;
  }
  if (typeof v === 'object') {
    const keys = Object.keys(v as object);
    if (depth <= 0) return keys.length === 0 ? '{}' : '{...}';
    const parts: string[] = [];
    let used = 2;
    for (const k of keys) {
      if (used > budget) {
        parts.push('...');
        break;
      }
      const p = `${JSON.stringify(k)}:${render((v as Record<string, unknown>)[k], depth - 1, budget - used)}`;
      parts.push(p);
      used += p.length + 1;
    }
    return `{${parts.join(',')}}`;
  }
  return String(v);
}
