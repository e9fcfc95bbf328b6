/**
 * A watchdog for the suite: a worker thread that ends the process, naming the test, when the main thread stops
 * answering. Mocha's own timeouts run on the main thread's event loop, so a call that blocks that loop (a native
 * call waiting forever, a wasm thread deadlock) or a handle that keeps the process alive after the last test would
 * otherwise hang the run until the CI limit, with nothing saying where.
 *
 * The main thread reports each test's start (with its timeout) and end; the worker arms a deadline accordingly and,
 * when it passes, writes one line to stderr and kills the process (exit status 1 through SIGTERM, SIGKILL 10 s later).
 * After the last test the deadline is {@link EXIT_GRACE_MS}: the process must exit by itself by then.
 */
import { Worker } from 'worker_threads';

/** Added to a test's own timeout: mocha reports a timed-out test itself well before the watchdog acts. */
const GRACE_MS = 5 * 60_000;
/** Between tests (hooks, file loading): the longest `before` hook of the suite is well under this. */
const BETWEEN_TESTS_MS = 20 * 60_000;
/** After the last test: time for the reporter's summary and for the event loop to drain. */
export const EXIT_GRACE_MS = 2 * 60_000;

const WORKER_SOURCE = `
const { parentPort } = require('worker_threads');
const fs = require('fs');
let timer = null;
parentPort.on('message', ({ ms, what }) => {
  if (timer) clearTimeout(timer);
  timer = setTimeout(() => {
    fs.writeSync(2, '\\nwatchdog: ' + what + ' (no progress for ' + Math.round(ms / 1000) + ' s); ending the process\\n');
    process.kill(process.pid, 'SIGTERM');
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), 10000);
  }, ms);
});
`;

let worker: Worker | undefined;

function arm(ms: number, what: string): void {
  if (!worker) {
    worker = new Worker(WORKER_SOURCE, { eval: true });
    // The worker must never keep the process alive: it only watches.
    worker.unref();
  }
  worker.postMessage({ ms, what });
}

/** A test named `title` starts with mocha timeout `timeoutMs` (0: none). */
export function testStarted(title: string, timeoutMs: number): void {
  arm((timeoutMs > 0 ? timeoutMs : BETWEEN_TESTS_MS) + GRACE_MS, `the test "${title}" is stuck`);
}

/** The test `title` ended (passed, failed or skipped). */
export function testEnded(title: string): void {
  arm(BETWEEN_TESTS_MS, `stuck in the hooks or file loading after the test "${title}"`);
}

/**
 * Every test ran. The process has {@link EXIT_GRACE_MS} to exit; half-way, the handles that keep it alive are
 * listed (an unreferenced timer fires only while something else keeps the event loop running).
 */
export function suiteEnded(): void {
  arm(EXIT_GRACE_MS, 'every test ran but the process did not exit');
  setTimeout(() => {
    process.stderr.write(`watchdog: the process is still alive; active resources: ${process.getActiveResourcesInfo().join(', ')}\n`);
  }, EXIT_GRACE_MS / 2).unref();
}
