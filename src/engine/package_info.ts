/** Where the resvision package lives on disk, from source (tsx) and compiled (dist/) alike. */
import * as fs from 'fs';
import * as path from 'path';

/** The folder holding resvision's package.json. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj) && (JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string }).name === 'resvision') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find resvision's package.json above ${__dirname}`);
    dir = parent;
  }
}

/** resvision's version from package.json. */
export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
