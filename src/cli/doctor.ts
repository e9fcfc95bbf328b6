/** `resvision doctor`: which compute backend is active, why the others are not, and how to get the native ones. */
import * as tf from '@tensorflow/tfjs';
import { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { BackendChoice, selectBackend } from '../engine/backend';
import { packageRoot } from '../engine/package_info';

/**
 * The version of a native backend package that fits this resvision: its `peerDependencies` entry (the same
 * version as `@tensorflow/tfjs`).
 */
export function nativePeerVersion(pkg: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu'): string {
  const pj = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { peerDependencies?: Record<string, string> };
  return pj.peerDependencies?.[pkg] ?? tf.version_core;
}

/**
 * Text of the doctor report: active backend, version, threads, the reason every other candidate failed, and, when
 * the native backend is not active, the install commands for it (with the CUDA and cuDNN versions that
 * tfjs-node-gpu 4.x requires, per the tfjs-node README).
 */
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
      `  CPU, all cores:   npm install @tensorflow/tfjs-node@${nativePeerVersion('@tensorflow/tfjs-node')}`,
      `  NVIDIA GPU:       npm install @tensorflow/tfjs-node-gpu@${nativePeerVersion('@tensorflow/tfjs-node-gpu')}` +
        '  (Linux x86-64 or Windows; driver > 450, CUDA 11.2, cuDNN 8.1 on the library path)',
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
