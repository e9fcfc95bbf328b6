/**
 * One read interface over the weight file formats we import: safetensors and `torch.save` archives. The format
 * is recognized from the file's first bytes, never from its extension.
 */
import * as fs from 'fs';
import { HostTensor, WeightDtype } from './dtypes';
import { TorchArchive } from './pth';
import { SafetensorsFile } from './safetensors';
import { TorchTensorRef } from './torch_pickle';

/** A file of named tensors, read lazily. */
export interface WeightSource {
  readonly file: string;
  readonly format: 'safetensors' | 'pth';
  /** safetensors `__metadata__` (empty for torch archives). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensor names in file order. */
  keys(): string[];
  /** dtype and shape of one tensor, from the header alone. @throws Error for an unknown name. */
  info(name: string): { dtype: WeightDtype; shape: number[] };
  /** Read one tensor (a new host copy the caller owns). */
  read(name: string): Promise<HostTensor>;
  close(): Promise<void>;
}

class SafetensorsSource implements WeightSource {
  readonly format = 'safetensors';
  constructor(private readonly st: SafetensorsFile) {}
  get file(): string {
    return this.st.file;
  }
  get metadata(): Readonly<Record<string, string>> {
    return this.st.metadata;
  }
  keys(): string[] {
    return this.st.keys();
  }
  info(name: string): { dtype: WeightDtype; shape: number[] } {
    const i = this.st.info(name);
    return { dtype: i.dtype, shape: [...i.shape] };
  }
  read(name: string): Promise<HostTensor> {
    return this.st.read(name);
  }
  close(): Promise<void> {
    return this.st.close();
  }
}

class TorchSource implements WeightSource {
  readonly format = 'pth';
  readonly metadata = {};
  private readonly sd: Map<string, TorchTensorRef>;
  constructor(private readonly archive: TorchArchive) {
    this.sd = archive.stateDict();
  }
  get file(): string {
    return this.archive.file;
  }
  keys(): string[] {
    return [...this.sd.keys()];
  }
  private ref(name: string): TorchTensorRef {
    const r = this.sd.get(name);
    if (!r) throw new Error(`${this.file}: no tensor '${name}'`);
    return r;
  }
  info(name: string): { dtype: WeightDtype; shape: number[] } {
    const r = this.ref(name);
    return { dtype: r.storage.dtype, shape: [...r.shape] };
  }
  read(name: string): Promise<HostTensor> {
    return this.archive.read(this.ref(name));
  }
  async close(): Promise<void> {
    this.archive.close();
  }
}

/**
 * Open a weight file: a `torch.save` file (zip archive or the legacy pre-1.6 format; its state dict, possibly nested
 * under `state_dict`/`model`) or a safetensors file.
 * @throws Error naming the file when it cannot be read, or any format error of the underlying reader.
 */
export async function openWeightSource(file: string): Promise<WeightSource> {
  const magic = new Uint8Array(4);
  try {
    const fh = await fs.promises.open(file, 'r');
    try {
      await fh.read(magic, 0, 4, 0);
    } finally {
      await fh.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${file}: cannot read the weights file (${code === 'EISDIR' ? 'a folder' : (code ?? (e as Error).message)})`);
  }
  // A zip archive (torch >= 1.6), or a pickle stream (torch's legacy format: protocol 2, then its magic number).
  const isZip = magic[0] === 0x50 && magic[1] === 0x4b && magic[2] === 0x03 && magic[3] === 0x04;
  if (isZip || (magic[0] === 0x80 && magic[1] <= 5)) {
    const archive = await TorchArchive.open(file);
    try {
      return new TorchSource(archive);
    } catch (e) {
      archive.close();
      throw e;
    }
  }
  return new SafetensorsSource(await SafetensorsFile.open(file));
}
