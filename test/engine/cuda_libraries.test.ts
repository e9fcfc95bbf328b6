/**
 * findCudaLibraries (src/engine/cuda_libraries.ts): each soname libtensorflow 2.9 opens is looked up in
 * LD_LIBRARY_PATH first; a library placed there is reported at that path, one absent everywhere as missing with
 * what provides it.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CUDA_LIBRARIES, findCudaLibraries } from '../../src/engine/cuda_libraries';

describe('findCudaLibraries', () => {
  it('LD_LIBRARY_PATH entries are found there, in the order of CUDA_LIBRARIES; the list is the 9 sonames', function () {
    if (process.platform !== 'linux') this.skip(); // only Linux is searched
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cuda-libs-'));
    try {
      for (const name of ['libcudart.so.11.0', 'libcudnn.so.8']) fs.writeFileSync(path.join(dir, name), '');
      const libs = findCudaLibraries({ LD_LIBRARY_PATH: `/nonexistent:${dir}` });
      expect(libs.map((l) => l.soname)).to.deep.equal(CUDA_LIBRARIES.map((l) => l.soname));
      expect(libs.map((l) => l.soname)).to.include.members(['libcuda.so.1', 'libcudart.so.11.0', 'libcublas.so.11', 'libcudnn.so.8']);
      expect(libs.find((l) => l.soname === 'libcudart.so.11.0')!.foundAt).to.equal(path.join(dir, 'libcudart.so.11.0'));
      expect(libs.find((l) => l.soname === 'libcudnn.so.8')!.foundAt).to.equal(path.join(dir, 'libcudnn.so.8'));
      // A soname absent from the folder is found elsewhere on a CUDA machine, or reported missing with its provider.
      const cublas = libs.find((l) => l.soname === 'libcublas.so.11')!;
      expect(cublas.providedBy).to.equal('CUDA 11.x cuBLAS');
      if (cublas.foundAt !== undefined) expect(fs.existsSync(cublas.foundAt)).to.equal(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
