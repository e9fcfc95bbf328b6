/**
 * Weights given by name or URL on the command line (`--weights torchvision:resnet50.IMAGENET1K_V2`,
 * `--weights https://…#sha256=…`) or in a config's `model.weights` / `model.backboneWeights`: resolved to a local
 * file (downloaded into the cache on first use) before the command runs. See src/weights/download.ts.
 */
import { Command } from 'commander';
import { isRemoteWeightsSpec, resolveWeights } from '../weights/download';

/** The `--weights-mirror` of the root command, if given. */
function mirrorOf(command: Command): string | undefined {
  let root = command;
  while (root.parent) root = root.parent;
  return root.opts<{ weightsMirror?: string }>().weightsMirror;
}

/** Resolve one spec, saying on stderr where a name or URL came from. */
async function resolveToFile(spec: string, mirror: string | undefined): Promise<string> {
  const r = await resolveWeights(spec, mirror ? { mirror } : {});
  const classes = r.categories ? `; ${r.categories.length} class names` : '';
  const how = { path: 'as given', cache: 'cached', 'torch-hub': "from torch.hub's cache", download: 'downloaded' }[r.source];
  process.stderr.write(`weights: ${spec} -> ${r.file} (${how}${classes})\n`);
  return r.file;
}

/**
 * Replace a name or URL given to `command`'s `--weights` by the local file it resolves to, so that the path checks
 * and the command see a file. A path is left as it is.
 * @throws Error, one line, from {@link resolveWeights} (unknown name, download failure, hash mismatch).
 */
export async function resolveWeightsOption(command: Command): Promise<void> {
  const spec = command.opts<{ weights?: unknown }>().weights;
  if (typeof spec !== 'string' || !isRemoteWeightsSpec(spec)) return;
  command.setOptionValue('weights', await resolveToFile(spec, mirrorOf(command)));
}

/**
 * Resolve names and URLs in a loaded config's `model.weights` and (segmentation) `model.backboneWeights` in place.
 * @throws Error, one line, from {@link resolveWeights}.
 */
export async function resolveConfigWeights(model: { weights?: string | null; backboneWeights?: string | null }, command: Command): Promise<void> {
  for (const key of ['weights', 'backboneWeights'] as const) {
    const spec = model[key];
    if (typeof spec === 'string' && isRemoteWeightsSpec(spec)) model[key] = await resolveToFile(spec, mirrorOf(command));
  }
}
