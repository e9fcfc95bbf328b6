/** Helpers shared by subcommands: backend start-up and config loading with one-line errors. */
import { Command } from 'commander';
import { BackendChoice, BackendInfo, selectBackend } from '../engine/backend';

/** Select the backend given by the global `--backend` option and say which one runs, on stderr. */
export async function startBackend(program: Command, opts: { quiet?: boolean } = {}): Promise<BackendInfo> {
  const choice = program.opts<{ backend: BackendChoice }>().backend;
  const info = await selectBackend(choice);
  if (!opts.quiet) process.stderr.write(`backend: ${info.name} (${info.packageName} ${info.version})\n`);
  return info;
}
