/** `resvision doctor`: which compute backend is active and why the others are not. */
import * as tf from '@tensorflow/tfjs';
import { Command } from 'commander';
import { BackendChoice, selectBackend } from '../engine/backend';

/** Text of the doctor report: active backend, version, threads, and the reason every other candidate failed. */
export async function doctorReport(choice: BackendChoice): Promise<string> {
  const info = await selectBackend(choice, { probeAll: true });
  const lines = [
    `active backend: ${info.name} (${info.packageName} ${info.version}), threads: ${info.threads}`,
    `tfjs-core: ${tf.version_core}, node: ${process.version}, platform: ${process.platform}-${process.arch}`,
    'candidates:',
  ];
  for (const a of info.attempts) {
    lines.push(`  ${a.ok ? 'ok  ' : 'no  '} ${a.candidate}${a.ok ? '' : `: ${a.reason}`}`);
  }
  if (info.name !== 'tensorflow') {
    lines.push(
      'hint: for native speed install @tensorflow/tfjs-node (CPU) or @tensorflow/tfjs-node-gpu (CUDA 11.2 + cuDNN 8.1) next to resvision',
    );
  }
  return lines.join('\n');
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('print the active compute backend, its version and threads, and why other backends did not load')
    .action(async () => {
      const opts = program.opts<{ backend: BackendChoice }>();
      process.stdout.write(`${await doctorReport(opts.backend)}\n`);
    });
}
