/**
 * The layering of the code base, read from the import statements of every source file (static `import`/`export
 * ... from`, `require(...)` and `import(...)` with a literal path):
 *
 *   src/common                  imports nothing of the project (plain TypeScript: log sink, seeds, files)
 *   src/nn, src/ops, src/kernels, src/backbone, src/weights, src/engine
 *                               import src/ only, never heads/, datasets/ or src/tasks/
 *   heads/                      imports src/ (not src/engine, src/tasks, src/cli), never datasets/
 *   datasets/                   imports src/ (not src/engine, src/tasks, src/cli), never heads/
 *   src/tasks, src/inference, src/cli, src/config, src/index.ts, scripts/
 *                               assemble everything
 *
 * and evaluators (the metric code of `datasets/`) load no tensor library, directly or through what they import at
 * run time (type-only imports are erased).
 * A violation names the importing file, the import and the rule.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';

const REPO = path.resolve(__dirname, '..', '..');
const ROOTS = ['src', 'heads', 'datasets'];

/** Every .ts file under the source roots, relative to the repository, with '/' separators. */
function sourceFiles(roots: readonly string[] = ROOTS): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(path.join(REPO, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
    }
  };
  roots.forEach(walk);
  return out.sort();
}

/** One import of a file: its module specifier, and whether it is erased at compile time (`import type`). */
export interface ImportRef {
  spec: string;
  typeOnly: boolean;
}

/**
 * The imports of a file. Type-only imports count for the layer rules (they couple the layers as much) but load
 * nothing at run time.
 */
export function importSpecifiers(source: string): ImportRef[] {
  const refs: ImportRef[] = [];
  const patterns = [
    /^\s*(?:import|export)\s([^;'"]*?)\sfrom\s*['"]([^'"]+)['"]/gm,
    /^\s*import()\s*['"]([^'"]+)['"]/gm,
    /\brequire\(()\s*['"]([^'"]+)['"]\s*\)/g,
    /\bimport\(()\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) refs.push({ spec: m[2], typeOnly: /^\s*type\s/.test(m[1]) });
  return refs;
}

/** A relative specifier resolved to a repository path without extension; a package name as is. */
function resolve(fromFile: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return path.posix.normalize(path.posix.join(path.posix.dirname(fromFile), spec)).replace(/\.(ts|js)$/, '');
}

/** The file a resolved project path names (`x.ts` or `x/index.ts`), or undefined. */
function fileOf(resolved: string): string | undefined {
  // A `.d.ts` stands for generated JavaScript beside it (src/vendor): it resolves, and imports nothing.
  for (const f of [`${resolved}.ts`, `${resolved}/index.ts`, `${resolved}.d.ts`]) if (fs.existsSync(path.join(REPO, f))) return f;
  return undefined;
}

const under = (p: string, folder: string): boolean => p === folder || p.startsWith(`${folder}/`);

/** Layer rules: files under `from` may not import paths under any of `forbidden`. */
const RULES: { from: string[]; forbidden: string[] }[] = [
  {
    from: ['src/common'],
    forbidden: ['heads', 'datasets', ...['nn', 'ops', 'kernels', 'backbone', 'weights', 'engine', 'config', 'tasks', 'cli', 'index'].map((d) => `src/${d}`)],
  },
  {
    from: ['src/nn', 'src/ops', 'src/kernels', 'src/backbone', 'src/weights', 'src/engine'],
    forbidden: ['heads', 'datasets', 'src/tasks', 'src/cli', 'src/config'],
  },
  { from: ['heads'], forbidden: ['datasets', 'src/engine', 'src/tasks', 'src/cli'] },
  { from: ['datasets'], forbidden: ['heads', 'src/engine', 'src/tasks', 'src/cli'] },
];

/** The evaluators: metric code that must run without a tensor library. */
const EVALUATORS = [
  'datasets/evaluator.ts',
  'datasets/detection_evaluator.ts',
  'datasets/image_folder/classification_eval.ts',
  'datasets/coco/cocoeval.ts',
  'datasets/voc/voc_ap.ts',
  'datasets/voc/miou.ts',
  'datasets/voc/segmentation_evaluator.ts',
];

describe('layering (imports read from the sources)', () => {
  const files = sourceFiles();
  const refs = new Map(
    files.map((f) => [f, importSpecifiers(fs.readFileSync(path.join(REPO, f), 'utf-8')).map((r) => ({ ...r, spec: resolve(f, r.spec) }))] as const),
  );
  const imports = new Map([...refs].map(([f, rs]) => [f, rs.map((r) => r.spec)] as const));
  const runtimeImports = new Map([...refs].map(([f, rs]) => [f, rs.filter((r) => !r.typeOnly).map((r) => r.spec)] as const));

  it('importSpecifiers: static, re-export, side-effect, require and dynamic imports; not strings elsewhere', () => {
    const src = [
      "import * as tf from '@tensorflow/tfjs-core';",
      "import type { A } from '../a';",
      "export { b } from './b';",
      "import './c';",
      "const d = require('./d');",
      "const e = await import('./e');",
      "const s = 'from ../f';",
    ].join('\n');
    expect(importSpecifiers(src)).to.have.deep.members([
      { spec: '@tensorflow/tfjs-core', typeOnly: false },
      { spec: '../a', typeOnly: true },
      { spec: './b', typeOnly: false },
      { spec: './c', typeOnly: false },
      { spec: './d', typeOnly: false },
      { spec: './e', typeOnly: false },
    ]);
  });

  it(`sees the source tree (${files.length} files, every relative import resolves to a file)`, () => {
    expect(files).to.include.members(['src/nn/module.ts', 'heads/detection/model.ts', 'datasets/coco/cocoeval.ts', 'src/tasks/harness.ts']);
    const unresolved = [...imports].flatMap(([f, specs]) => specs.filter((s) => ROOTS.some((r) => under(s, r)) && !fileOf(s)).map((s) => `${f} → ${s}`));
    expect(unresolved).to.deep.equal([]);
  });

  for (const rule of RULES) {
    it(`${rule.from.join(', ')} import nothing under ${rule.forbidden.join(', ')}`, () => {
      const violations: string[] = [];
      for (const [f, specs] of imports) {
        if (!rule.from.some((d) => under(f, d))) continue;
        for (const s of specs) if (rule.forbidden.some((d) => under(s, d))) violations.push(`${f} imports ${s}`);
      }
      expect(violations).to.deep.equal([]);
    });
  }

  it('tensors come from @tensorflow/tfjs-core and the backends the package depends on, never the @tensorflow/tfjs bundle', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf-8')) as { dependencies: Record<string, string> };
    const allowed = Object.keys(pkg.dependencies).filter((d) => d.startsWith('@tensorflow/'));
    expect(allowed).to.include.members(['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu']);
    expect(allowed).to.not.include('@tensorflow/tfjs');
    const optional = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']; // peers, loaded only if installed
    // The tests and scripts too: they run against the same installed packages.
    const everyFile = sourceFiles([...ROOTS, 'test', 'scripts']);
    const violations = everyFile.map((f) => [f, importSpecifiers(fs.readFileSync(path.join(REPO, f), 'utf-8')).map((r) => r.spec)] as const).flatMap(([f, specs]) =>
      specs.filter((s) => s.startsWith('@tensorflow/') && ![...allowed, ...optional].some((a) => s === a || s.startsWith(`${a}/`))).map((s) => `${f} imports ${s}`),
    );
    expect(violations).to.deep.equal([]);
  });

  it('evaluators load no tensor library, directly or through their run-time imports', () => {
    const violations: string[] = [];
    for (const evaluator of EVALUATORS) {
      expect(fs.existsSync(path.join(REPO, evaluator)), evaluator).to.equal(true);
      const seen = new Set<string>();
      const stack: { file: string; chain: string[] }[] = [{ file: evaluator, chain: [evaluator] }];
      while (stack.length > 0) {
        const { file, chain } = stack.pop()!;
        if (seen.has(file)) continue;
        seen.add(file);
        for (const s of runtimeImports.get(file) ?? []) {
          if (s.startsWith('@tensorflow/')) violations.push(`${chain.join(' → ')} imports ${s}`);
          const next = fileOf(s);
          if (next) stack.push({ file: next, chain: [...chain, next] });
        }
      }
    }
    expect(violations).to.deep.equal([]);
  });
});
