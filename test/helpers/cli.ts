/** Running the `resvision` CLI in-process from tests. */
import { buildProgram } from '../../src/cli/main';

/**
 * Run the CLI on the wasm backend and capture what it prints on stdout (stderr, with progress and warnings, is
 * swallowed). Commander's exits become thrown errors (`exitOverride`).
 */
export async function runCli(args: string[]): Promise<string> {
  return (await runCliCapture(args)).stdout;
}

/** {@link runCli}, keeping what the CLI printed on stderr as well. */
export async function runCliCapture(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const chunks: string[] = [];
  const errChunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const werr = process.stderr.write.bind(process.stderr);
  (process.stdout as { write: unknown }).write = (c: string | Uint8Array) => (chunks.push(String(c)), true);
  (process.stderr as { write: unknown }).write = (c: string | Uint8Array) => (errChunks.push(String(c)), true);
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'resvision', '--backend', 'wasm', ...args]);
  } finally {
    (process.stdout as { write: unknown }).write = write;
    (process.stderr as { write: unknown }).write = werr;
  }
  return { stdout: chunks.join(''), stderr: errChunks.join('') };
}
