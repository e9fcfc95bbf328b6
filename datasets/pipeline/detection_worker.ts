/**
 * Worker-thread entry of `ImageWorkerPool` (loaded by piscina, not imported by library code): runs one
 * `DetectionImageJob` and hands the float32 pixels to the main thread without a copy.
 *
 * The pixels are written into a `SharedArrayBuffer` (`setFloat32OutputAllocator`), which crosses threads as a
 * reference: the main thread gets a view of the same memory and no new external `ArrayBuffer` to account and sweep
 * (a transferred 10 MB `ArrayBuffer` per image cost the main thread's garbage collector more than the copy it
 * avoided; `scripts/bench/detection_loader.ts`). Any other result is moved (`Piscina.move`), never cloned.
 *
 * Reference: piscina worker files (`module.exports = async (task) => result`, `Piscina.move`); HTML structured
 * clone of `SharedArrayBuffer` (shared, not copied).
 */
import { Piscina } from 'piscina';
import { runDetectionImageJob, type DetectionImageJob } from './detection_presets';
import { setFloat32OutputAllocator } from './resize_normalize';

setFloat32OutputAllocator((length) => new Float32Array(new SharedArrayBuffer(length * Float32Array.BYTES_PER_ELEMENT)));

/**
 * @param job - see `DetectionImageJob`.
 * @returns the [job.height, job.width, 3] float32 pixels, in shared memory (or marked to be transferred).
 * @throws `runDetectionImageJob`'s errors (their messages name the file).
 */
export default async function detectionWorker(job: DetectionImageJob): Promise<unknown> {
  const data = await runDetectionImageJob(job);
  return data.buffer instanceof SharedArrayBuffer ? data : Piscina.move(data);
}
