/**
 * The real datasets and reference results live in `../shared` next to a development checkout (CI has it); a user's
 * clone does not. Suites that read them are marked with the reason when it is absent.
 */
import * as fs from 'fs';
import * as path from 'path';

/** `<repo>/../shared`. */
export const SHARED_ROOT = path.resolve(__dirname, '..', '..', '..', 'shared');

/** Whether `../shared/<sub>` exists. */
export function hasShared(sub = ''): boolean {
  return fs.existsSync(path.join(SHARED_ROOT, sub));
}

/**
 * Suffix for a suite title: empty when `../shared/<sub>` exists, else the reason its tests are skipped, so that the
 * pending tests in mocha's report say why.
 */
export function sharedSkipNote(sub = 'datasets'): string {
  return hasShared(sub)
    ? ''
    : ` [skipped: ${path.join(SHARED_ROOT, sub)} is absent; the real datasets are not part of the repository]`;
}
