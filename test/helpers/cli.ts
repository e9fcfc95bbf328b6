/** Running the `resvision` CLI from tests: in-process, or as a separate process as a job scheduler would. */
import { expect } from 'chai';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { buildProgram } from '../../src/cli/main';

const REPO = path.resolve(__dirname, '../..');

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

/** {@link runCli}'s error message, or '' when the command succeeds. */
export function cliError(args: string[]): Promise<string> {
  return runCli(args).then(
    () => '',
    (e: Error) => e.message,
  );
}

/** Run `resvision ARGS` as a separate process (wasm, one thread); resolves with its stdout, rejects with its stderr. */
export function runCliProcess(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/cli/main.ts'), '--backend', 'wasm', '--threads', '1', ...args], { cwd: REPO });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += String(c)));
    child.stderr.on('data', (c: Buffer) => (err += String(c)));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`resvision ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

/** The last checkpoint `resvision train` wrote into the run folder `run` (by step count in its name). */
export function lastCheckpoint(run: string): string {
  const files = fs.readdirSync(run).filter((f) => /^model_\d+\.safetensors$/.test(f)).sort();
  expect(files, `checkpoints in ${run}`).to.not.be.empty;
  return path.join(run, files.at(-1)!);
}

