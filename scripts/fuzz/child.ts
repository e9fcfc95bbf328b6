/**
 * A fuzzer child process: loads the inputs its parent sends (`{ id, format, file, seedIndex }` over IPC) and answers
 * `{ id, outcome: 'accepted', dropped? }` or `{ id, outcome: 'error', name, message }`. Hangs and aborts are seen
 * by the parent (timeout, exit), which is why each input runs here and not in the parent.
 */
import type { FuzzFormat } from './formats';
import { loadFuzzInput } from './loaders';

interface Job {
  id: number;
  format: FuzzFormat;
  file: string;
  seedIndex: number;
  mustEqualSeed: boolean;
}

// Library code may write warnings; the parent reads answers from IPC only.
process.stderr.write = (() => true) as typeof process.stderr.write;
process.stdout.write = (() => true) as typeof process.stdout.write;

process.on('message', (job: Job) => {
  loadFuzzInput(job.format, job.file, job.seedIndex, job.mustEqualSeed).then(
    (s) => process.send!({ id: job.id, outcome: 'accepted', dropped: s.dropped }),
    (e: unknown) =>
      process.send!({
        id: job.id,
        outcome: 'error',
        name: e instanceof Error ? e.name : typeof e,
        message: e instanceof Error ? e.message : String(e),
      }),
  );
});
// The parent died or closed the channel: nothing more will come.
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });
