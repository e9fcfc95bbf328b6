/**
 * Mocha root setup: every test runs on the wasm backend with the project's training kernels registered, as a user's
 * `--backend wasm` run does. Tests that compare against the pure-JS reference switch to `cpu` themselves.
 */
import { selectBackend } from '../../src/engine/backend';

export const mochaHooks = {
  async beforeAll(): Promise<void> {
    await selectBackend('wasm');
  },
};
