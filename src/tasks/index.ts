/**
 * The one table from a config's `task` to the code that runs it. Adding a task is adding one line here (and its
 * config type to the `Config` union in `src/config/types.ts`).
 */
import type { Config } from '../config/types';
import { classificationTask } from './classification';
import { detectionTask } from './detection';
import { segmentationTask } from './segmentation';
import type { TaskRunner } from './task';

/** Task name → entry points, typed so that each runner takes its own config. */
export const TASKS: { [K in Config['task']]: TaskRunner<Extract<Config, { task: K }>> } = {
  classification: classificationTask,
  detection: detectionTask,
  segmentation: segmentationTask,
};

/** The runner of `cfg.task`, typed for that config. */
export function taskRunner<C extends Config>(cfg: C): TaskRunner<C> {
  return TASKS[cfg.task] as unknown as TaskRunner<C>;
}
