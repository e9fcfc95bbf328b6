/**
 * Which of the shared libraries that @tensorflow/tfjs-node-gpu 4.x loads are present on this machine, for `doctor`.
 *
 * tfjs-node-gpu 4.22 bundles libtensorflow 2.9.1, built against CUDA 11.2 and cuDNN 8.1 (tfjs-node README, "GPU
 * support"; TensorFlow's tested build configurations): its dlopen calls ask for the sonames below, and the NVIDIA
 * driver provides libcuda.so.1. A missing one makes TensorFlow fall back to the CPU with only a log line, which is
 * why the report names each library and where it was found.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** One library: its soname, what provides it, and where it was found (absent when missing). */
export interface CudaLibrary {
  soname: string;
  /** What installs it, told to the user when it is missing. */
  providedBy: string;
  foundAt?: string;
}

/** The sonames libtensorflow 2.9 (CUDA 11.2, cuDNN 8.1) opens, with what provides each. */
export const CUDA_LIBRARIES: ReadonlyArray<Omit<CudaLibrary, 'foundAt'>> = [
  { soname: 'libcuda.so.1', providedBy: 'the NVIDIA driver (>= 450.80)' },
  { soname: 'libcudart.so.11.0', providedBy: 'CUDA 11.x runtime' },
  { soname: 'libcublas.so.11', providedBy: 'CUDA 11.x cuBLAS' },
  { soname: 'libcublasLt.so.11', providedBy: 'CUDA 11.x cuBLAS' },
  { soname: 'libcufft.so.10', providedBy: 'CUDA 11.x cuFFT' },
  { soname: 'libcurand.so.10', providedBy: 'CUDA 11.x cuRAND' },
  { soname: 'libcusolver.so.11', providedBy: 'CUDA 11.x cuSOLVER' },
  { soname: 'libcusparse.so.11', providedBy: 'CUDA 11.x cuSPARSE' },
  { soname: 'libcudnn.so.8', providedBy: 'cuDNN 8.1 for CUDA 11' },
];

/** `ldconfig -p` as soname -> path (empty when ldconfig is unavailable). */
function ldconfigCache(): Map<string, string> {
  const out = new Map<string, string>();
  for (const bin of ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig']) {
    try {
      const text = execFileSync(bin, ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
      for (const m of text.matchAll(/^\s*(\S+) \([^)]*\) => (\S+)$/gm)) if (!out.has(m[1])) out.set(m[1], m[2]);
      return out;
    } catch {
      // try the next location
    }
  }
  return out;
}

/**
 * Look for every library of {@link CUDA_LIBRARIES}: in `LD_LIBRARY_PATH`, the usual CUDA install folders, and the
 * dynamic linker's cache (the places dlopen searches, in its order).
 *
 * @param env the environment to read `LD_LIBRARY_PATH` from (default `process.env`).
 * @returns one entry per library, `foundAt` set where found; on other platforms than Linux, an empty list.
 */
export function findCudaLibraries(env: NodeJS.ProcessEnv = process.env): CudaLibrary[] {
  if (process.platform !== 'linux') return [];
  const dirs = [
    ...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/local/cuda/lib64',
    '/usr/local/cuda-11.2/lib64',
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib64',
  ];
  const cache = ldconfigCache();
  return CUDA_LIBRARIES.map((lib) => {
    const inDir = dirs.map((d) => path.join(d, lib.soname)).find((p) => fs.existsSync(p));
    const foundAt = inDir ?? cache.get(lib.soname);
    return foundAt ? { ...lib, foundAt } : { ...lib };
  });
}
