/**
 * Worker-thread entry of `ImageWorkerPool` (loaded by piscina, not imported by library code): runs one
 * `DetectionImageJob` and moves the float32 pixels back to the main thread without a copy.
 *
 * Reference: piscina worker files (`module.exports = async (task) => result`, `Piscina.move`).
 */
import { Piscina } from 'piscina';
import { runDetectionImageJob, type DetectionImageJob } from './detection_presets';

/**
 * @param job - see `DetectionImageJob`.
 * @returns the [job.height, job.width, 3] float32 pixels, marked to be transferred.
 * @throws `runDetectionImageJob`'s errors (their messages name the file).
 */
export default async function detectionWorker(job: DetectionImageJob): Promise<unknown> {
  const data = await runDetectionImageJob(job);
  return Piscina.move(data);
}
