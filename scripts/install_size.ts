/**
 * What an install weighs: the size of node_modules (disk usage, as `du`, and the sum of file sizes), the production
 * part of it (the dependency closure of package.json's `dependencies`, what `npm install resvision` brings), the
 * closure of each direct dependency (its size and package count: a package shared by two closures counts in both), and
 * the heaviest packages on their own (nested node_modules excluded). Packages are found on disk; dependencies are
 * resolved as Node does (the nearest node_modules upwards).
 *
 * Prints one JSON object (sizes in MB = 2^20 bytes; disk = the files' 512-byte blocks, folders not counted, so `du`
 * reports about 1% more).
 * With `--drop a,b --add c,d` it also prints the production closure with those direct dependencies swapped (an
 * estimate from the packages installed here, e.g. `--drop @tensorflow/tfjs --add @tensorflow/tfjs-core,...`).
 * Usage: npx tsx scripts/install_size.ts [--top 15] [--root DIR] [--drop A,B --add C,D]
 *   (DIR: the folder holding package.json, default the repo)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { arg } from './bench/common';

interface PackageInfo {
  name: string;
  dir: string;
  /** Bytes on disk (512-byte blocks) and apparent bytes of its files, nested node_modules excluded. */
  diskBytes: number;
  fileBytes: number;
  files: number;
  deps: string[];
}

const MB = 1048576;
const round1 = (bytes: number): number => Math.round((bytes / MB) * 10) / 10;

/**
 * Size of a folder's files, recursively; with `ownOnly`, not entering `node_modules` folders. A file with several
 * hard links (npm links esbuild's binary) counts once, as `du` counts it.
 */
function folderSize(dir: string, ownOnly = true): { diskBytes: number; fileBytes: number; files: number } {
  const seen = new Set<string>();
  let diskBytes = 0;
  let fileBytes = 0;
  let files = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (!ownOnly || e.name !== 'node_modules') stack.push(path.join(d, e.name));
      } else if (e.isFile()) {
        const st = fs.statSync(path.join(d, e.name));
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          if (seen.has(key)) continue;
          seen.add(key);
        }
        diskBytes += st.blocks * 512;
        fileBytes += st.size;
        files++;
      }
    }
  }
  return { diskBytes, fileBytes, files };
}

/** Every package under `nodeModules` (scoped and nested too), by folder. */
function findPackages(nodeModules: string, out: Map<string, PackageInfo>): void {
  if (!fs.existsSync(nodeModules)) return;
  for (const e of fs.readdirSync(nodeModules, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const dirs = e.name.startsWith('@')
      ? fs.readdirSync(path.join(nodeModules, e.name), { withFileTypes: true }).filter((s) => s.isDirectory()).map((s) => path.join(nodeModules, e.name, s.name))
      : [path.join(nodeModules, e.name)];
    for (const dir of dirs) {
      const pj = path.join(dir, 'package.json');
      if (!fs.existsSync(pj)) continue;
      const meta = JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string; dependencies?: object; optionalDependencies?: object };
      out.set(dir, {
        name: meta.name ?? path.relative(nodeModules, dir),
        dir,
        ...folderSize(dir),
        deps: [...new Set([...Object.keys(meta.dependencies ?? {}), ...Object.keys(meta.optionalDependencies ?? {})])],
      });
      findPackages(path.join(dir, 'node_modules'), out);
    }
  }
}

/** Node's resolution of package `name` required from `fromDir`: the nearest `node_modules/<name>` upwards. */
function resolvePackage(name: string, fromDir: string, root: string, packages: Map<string, PackageInfo>): PackageInfo | undefined {
  for (let d = fromDir; ; d = path.dirname(d)) {
    const hit = packages.get(path.join(d, 'node_modules', name));
    if (hit) return hit;
    if (d === root || path.dirname(d) === d) return undefined;
  }
}

/** The packages `names` (required from `fromDir`) bring, themselves included. */
function closure(names: string[], fromDir: string, root: string, packages: Map<string, PackageInfo>): Set<PackageInfo> {
  const seen = new Set<PackageInfo>();
  const stack = names.map((n) => resolvePackage(n, fromDir, root, packages)).filter((p): p is PackageInfo => p !== undefined);
  while (stack.length > 0) {
    const p = stack.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    for (const dep of p.deps) {
      const q = resolvePackage(dep, p.dir, root, packages);
      if (q) stack.push(q);
    }
  }
  return seen;
}

function summary(set: Iterable<PackageInfo>): { diskMB: number; filesMB: number; packages: number } {
  let disk = 0;
  let bytes = 0;
  let n = 0;
  for (const p of set) {
    disk += p.diskBytes;
    bytes += p.fileBytes;
    n++;
  }
  return { diskMB: round1(disk), filesMB: round1(bytes), packages: n };
}

function main(): void {
  const root = path.resolve(arg('root', path.resolve(__dirname, '..')));
  const top = Number(arg('top', '15'));
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  // node_modules may be a link to a shared install: sizes are those of the folder it points to.
  const nodeModules = fs.realpathSync(path.join(root, 'node_modules'));
  const base = path.dirname(nodeModules);
  const packages = new Map<string, PackageInfo>();
  findPackages(nodeModules, packages);
  const direct = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})];
  const production = closure(direct, base, base, packages);
  const dev = closure(Object.keys(pkg.devDependencies ?? {}), base, base, packages);
  const all = folderSize(nodeModules, false);
  const report = {
    nodeModules: {
      path: nodeModules,
      diskMB: round1(all.diskBytes),
      filesMB: round1(all.fileBytes),
      files: all.files,
      packages: packages.size,
    },
    production: { ...summary(production), note: 'closure of dependencies + optionalDependencies: what `npm install resvision` brings' },
    devOnly: summary([...dev].filter((p) => !production.has(p))),
    byDirectDependency: direct
      .map((name) => ({ name, ...summary(closure([name], base, base, packages)) }))
      .sort((a, b) => b.diskMB - a.diskMB),
    heaviestPackages: [...packages.values()]
      .sort((a, b) => b.diskBytes - a.diskBytes)
      .slice(0, top)
      .map((p) => ({ name: p.name, diskMB: round1(p.diskBytes), files: p.files, production: production.has(p), at: path.relative(base, p.dir) })),
  };
  const drop = arg('drop', '').split(',').filter(Boolean);
  const add = arg('add', '').split(',').filter(Boolean);
  if (drop.length + add.length > 0) {
    const missing = add.filter((n) => !resolvePackage(n, base, base, packages));
    if (missing.length > 0) throw new Error(`--add: not installed here, cannot estimate: ${missing.join(', ')}`);
    const swapped = [...direct.filter((n) => !drop.includes(n)), ...add];
    Object.assign(report, { productionIf: { drop, add, ...summary(closure(swapped, base, base, packages)) } });
  }
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

main();
