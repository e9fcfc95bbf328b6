/**
 * Mocha root setup: every test runs on the wasm backend with the project's training kernels registered, as a user's
 * `--backend wasm` run does. Tests that compare against the pure-JS reference switch to `cpu` themselves. A watchdog
 * (./watchdog.ts) ends the run, naming the test, when the main thread stops making progress.
 */
import type { Context } from 'mocha';
import { selectBackend } from '../../src/engine/backend';
import { suiteEnded, testEnded, testStarted } from './watchdog';

export const mochaHooks = {
  async beforeAll(): Promise<void> {
    // One thread: the suite's figures and timeouts do not depend on the machine's cores; the threaded build is
    // tested in child processes (test/engine/wasm_threads.test.ts, test/cli/doctor.test.ts).
    await selectBackend('wasm', { threads: 1 });
  },
  beforeEach(this: Context): void {
    const t = this.currentTest;
    if (t) testStarted(t.fullTitle(), t.timeout());
  },
  afterEach(this: Context): void {
    const t = this.currentTest;
    if (t) testEnded(t.fullTitle());
  },
  afterAll(): void {
    suiteEnded();
  },
};
