/**
 * Weights by name or URL: `torchvision:resnet50.IMAGENET1K_V2` or `https://host/file.pth#sha256=<hex>` resolved to a
 * local file, downloaded once into the cache and checked against its SHA-256, as `torch.hub.load_state_dict_from_url`
 * does for torchvision (`check_hash=True`: the hex digits after the last `-` of the file name must start the file's
 * SHA-256).
 *
 * The cache is `<home>/weights/`, home being `RESVISION_HOME` or `~/.cache/resvision`. A file is downloaded to a
 * temporary name next to its destination and renamed into place only once its hash is checked, so the cache never
 * holds a partial or wrong file, and concurrent downloads of the same file do not corrupt each other.
 *
 * Reference: torch `hub.py` (`download_url_to_file`, `HASH_REGEX`, `load_state_dict_from_url`), torchvision
 * `models/_api.py` (`Weights.get_state_dict`, `DEFAULT`).
 */
import * as cliProgress from 'cli-progress';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CATEGORIES } from './categories';
import {
  TORCHVISION_BASE_URL,
  TORCHVISION_DEFAULT_WEIGHTS,
  TORCHVISION_WEIGHTS,
  TorchvisionModelName,
  TorchvisionWeightsName,
} from './torchvision_hub';

/** torch.hub's `HASH_REGEX`: the SHA-256 prefix in a published file name (`resnet50-11ad3fa6.pth` → `11ad3fa6`). */
const HASH_REGEX = /-([a-f0-9]*)\./;

/** Where and how weights are fetched. Every field has a default from the environment. */
export interface WeightsFetchOptions {
  /** Cache root; files go to `<home>/weights/`. Default: `RESVISION_HOME`, else `~/.cache/resvision`. */
  home?: string;
  /**
   * Base URL serving torchvision's files under their published names, used instead of
   * `https://download.pytorch.org/models/` (a mirror for machines behind a proxy). Default: `RESVISION_WEIGHTS_MIRROR`.
   */
  mirror?: string | null;
  /**
   * torch.hub's checkpoint folder, where torchvision keeps the files it downloaded (checked against the same hash
   * when it did): a `torchvision:` file found there is used rather than downloaded again. Null: not looked at.
   * Default: `$TORCH_HOME/hub/checkpoints`, else `~/.cache/torch/hub/checkpoints` (torch.hub's `get_dir`).
   */
  torchHubDir?: string | null;
  /** Never download: a file not in the cache is an error saying where to put it. Default: `RESVISION_OFFLINE=1`. */
  offline?: boolean;
  /** Show a progress bar (cli-progress) on stderr. Default: when stderr is a terminal. */
  progress?: boolean;
  /** Give up when no byte arrives for this long, milliseconds. Default 60000. */
  idleTimeoutMs?: number;
  /** Where one-line notes go (download start and end). Default: stderr. */
  log?: (line: string) => void;
}

/** A weights spec resolved to a local file. */
export interface ResolvedWeights {
  /** The spec as given (`torchvision:resnet50`, a URL, or a path). */
  spec: string;
  /** Local file to read (the cached download, or the path given). */
  file: string;
  /** How the file was obtained: as given, from our cache, from torch.hub's checkpoint folder, or downloaded now. */
  source: 'path' | 'cache' | 'torch-hub' | 'download';
  /** Where it was (or would be) downloaded from; absent for a path. */
  url?: string;
  /** torchvision's name of the weights (`DEFAULT` resolved), for a `torchvision:` spec. */
  name?: TorchvisionWeightsName;
  /** Class names of the model's outputs, indexed by label, for a `torchvision:` spec. */
  categories?: readonly string[];
}

/** True for the specs {@link resolveWeights} fetches (`torchvision:…`, `http://…`, `https://…`); false for a path. */
export function isRemoteWeightsSpec(spec: string): boolean {
  return /^(torchvision:|https?:\/\/)/i.test(spec);
}

/** The cache root: `opts.home`, else `RESVISION_HOME`, else `~/.cache/resvision`. */
export function resvisionHome(opts: { home?: string } = {}): string {
  return opts.home ?? process.env.RESVISION_HOME ?? path.join(os.homedir(), '.cache', 'resvision');
}

/**
 * The torchvision weights a name stands for: `<builder>.<member>`, `<builder>.DEFAULT` or `<builder>` alone (the
 * default, as torchvision's `weights="DEFAULT"`).
 * @throws Error for an unknown builder (listing the known ones) or member (listing the builder's weights).
 */
export function torchvisionWeightsName(name: string): TorchvisionWeightsName {
  const dot = name.indexOf('.');
  const model = dot < 0 ? name : name.slice(0, dot);
  const member = dot < 0 ? 'DEFAULT' : name.slice(dot + 1);
  if (!Object.hasOwn(TORCHVISION_DEFAULT_WEIGHTS, model)) {
    throw new Error(`torchvision:${name}: unknown model '${model}'; weights are published for ${Object.keys(TORCHVISION_DEFAULT_WEIGHTS).join(', ')}`);
  }
  const resolved = `${model}.${member === 'DEFAULT' ? TORCHVISION_DEFAULT_WEIGHTS[model as TorchvisionModelName] : member}`;
  if (!Object.hasOwn(TORCHVISION_WEIGHTS, resolved)) {
    const known = Object.keys(TORCHVISION_WEIGHTS).filter((k) => k.startsWith(`${model}.`));
    throw new Error(`torchvision:${name}: unknown weights '${member}' of ${model}; expected DEFAULT or one of ${known.map((k) => k.slice(model.length + 1)).join(', ')}`);
  }
  return resolved as TorchvisionWeightsName;
}

/**
 * Resolve a weights spec to a local file, downloading it into the cache on first use.
 * - `torchvision:<builder>[.<member>|.DEFAULT]`: torchvision's published file, checked against the SHA-256 prefix in
 *   its name, cached as `<home>/weights/<file name>` (or taken from torch.hub's checkpoint folder when torchvision
 *   already downloaded it there); comes with its class names.
 * - `http(s)://…[#sha256=<hex>]`: any file; with the fragment (8 to 64 hex digits) the file's SHA-256 must start
 *   with them. Cached as `<home>/weights/url/<hash of the URL>/<file name>`.
 * - anything else is a path, returned as given (the caller checks it exists).
 * A cached file is used as it is, without re-hashing (torch.hub does the same).
 * @throws Error, one line naming the spec: unknown name, bad fragment, HTTP status, network failure or offline mode
 *   (each saying which file to put where), or a hash mismatch (nothing is written to the cache).
 */
export async function resolveWeights(spec: string, opts: WeightsFetchOptions = {}): Promise<ResolvedWeights> {
  if (!isRemoteWeightsSpec(spec)) return { spec, file: spec, source: 'path' };
  const dir = path.join(resvisionHome(opts), 'weights');
  if (/^torchvision:/i.test(spec)) {
    const name = torchvisionWeightsName(spec.slice('torchvision:'.length));
    const entry = TORCHVISION_WEIGHTS[name];
    const mirror = opts.mirror !== undefined ? opts.mirror : (process.env.RESVISION_WEIGHTS_MIRROR ?? null);
    const url = mirror ? `${mirror.replace(/\/+$/, '')}/${entry.fileName}` : `${TORCHVISION_BASE_URL}${entry.fileName}`;
    const hashPrefix = HASH_REGEX.exec(entry.fileName)?.[1] ?? '';
    const file = path.join(dir, entry.fileName);
    const hubDir = opts.torchHubDir !== undefined ? opts.torchHubDir : path.join(process.env.TORCH_HOME ?? path.join(os.homedir(), '.cache', 'torch'), 'hub', 'checkpoints');
    const hubFile = hubDir ? path.join(hubDir, entry.fileName) : null;
    if (!fs.existsSync(file) && hubFile && fs.existsSync(hubFile)) {
      return { spec, file: hubFile, source: 'torch-hub', url, name, categories: CATEGORIES[entry.categories] };
    }
    const source = await fetchToCache(spec, url, file, hashPrefix, opts);
    return { spec, file, source, url, name, categories: CATEGORIES[entry.categories] };
  }
  const hashIndex = spec.indexOf('#');
  const url = hashIndex < 0 ? spec : spec.slice(0, hashIndex);
  let hashPrefix = '';
  if (hashIndex >= 0) {
    const m = /^sha256=([0-9a-fA-F]{8,64})$/.exec(spec.slice(hashIndex + 1));
    if (!m) throw new Error(`${spec}: the URL fragment must be #sha256=<8 to 64 hex digits of the file's SHA-256>`);
    hashPrefix = m[1].toLowerCase();
  }
  let baseName: string;
  try {
    baseName = decodeURIComponent(path.posix.basename(new URL(url).pathname));
  } catch {
    throw new Error(`${spec}: not a valid URL`);
  }
  // The URL (with its fragment) picks the folder, so two files of the same name from different places, or the same
  // URL checked against different hashes, never share a cache entry.
  const key = createHash('sha256').update(spec).digest('hex').slice(0, 16);
  const file = path.join(dir, 'url', key, baseName.replace(/[^\w.+-]/g, '_') || 'weights');
  return { spec, file, source: await fetchToCache(spec, url, file, hashPrefix, opts), url };
}

/** `file` from the cache, or downloaded from `url` and checked against `hashPrefix` ('' = no check). */
async function fetchToCache(spec: string, url: string, file: string, hashPrefix: string, opts: WeightsFetchOptions): Promise<'cache' | 'download'> {
  if (fs.existsSync(file)) return 'cache';
  const offline = opts.offline ?? process.env.RESVISION_OFFLINE === '1';
  const putHint = `download ${url} and put it at ${file}`;
  if (offline) throw new Error(`${spec}: not in the cache and working offline (RESVISION_OFFLINE=1): ${putHint}`);
  await downloadFile(spec, url, file, hashPrefix, putHint, opts);
  return 'download';
}

/** Why a fetch failed, in one phrase (`ECONNREFUSED 127.0.0.1:8080`, `getaddrinfo ENOTFOUND host`). */
function networkCause(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.message ?? cause?.code ?? (e instanceof Error ? e.message : String(e));
}

/** Stream `url` to a temporary file beside `file`, hashing as it goes; rename into place if the hash fits. */
async function downloadFile(spec: string, url: string, file: string, hashPrefix: string, putHint: string, opts: WeightsFetchOptions): Promise<void> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const idleTimeoutMs = opts.idleTimeoutMs ?? 60000;
  const controller = new AbortController();
  let idle: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => controller.abort(new Error(`no data for ${idleTimeoutMs / 1000} s`)), idleTimeoutMs);
  };
  armIdle();
  let response: Response;
  try {
    response = await fetch(url, { signal: controller.signal, redirect: 'follow' });
  } catch (e) {
    clearTimeout(idle);
    throw new Error(`${spec}: cannot download ${url} (${networkCause(e)}); offline, ${putHint}`);
  }
  if (!response.ok || !response.body) {
    clearTimeout(idle);
    await response.body?.cancel().catch(() => undefined);
    throw new Error(`${spec}: ${url} answered HTTP ${response.status} ${response.statusText}; ${putHint}`);
  }
  const total = Number(response.headers.get('content-length')) || 0;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.part`;
  const out = await fs.promises.open(tmp, 'w');
  const hash = createHash('sha256');
  const showBar = opts.progress ?? Boolean(process.stderr.isTTY);
  const bar = showBar
    ? new cliProgress.SingleBar(
        { stream: process.stderr, format: `${path.basename(file)} {bar} {percentage}% | {received}/{size} MB | ETA {eta_formatted}`, barsize: 24, hideCursor: null },
        cliProgress.Presets.shades_classic,
      )
    : null;
  const mb = (n: number): string => (n / 1048576).toFixed(1);
  const t0 = performance.now();
  let received = 0;
  let closed = false;
  try {
    if (!showBar) log(`downloading ${url} to ${file}${total ? ` (${mb(total)} MB)` : ''}`);
    bar?.start(total || 1, 0, { received: '0.0', size: total ? mb(total) : '?' });
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        armIdle();
        hash.update(chunk);
        await out.write(chunk);
        received += chunk.length;
        bar?.update(total ? received : 0, { received: mb(received) });
      }
    } catch (e) {
      throw new Error(`${spec}: the download of ${url} broke off after ${mb(received)} MB (${networkCause(e)}); nothing was cached; offline, ${putHint}`);
    } finally {
      clearTimeout(idle);
      bar?.stop();
    }
    if (total && received !== total) {
      throw new Error(`${spec}: ${url} sent ${received} bytes of ${total}; nothing was cached; offline, ${putHint}`);
    }
    await out.sync();
    await out.close();
    closed = true;
    const digest = hash.digest('hex');
    if (!digest.startsWith(hashPrefix)) {
      throw new Error(`${spec}: invalid hash value of ${url} (expected "${hashPrefix}", got "${digest}"); the file was not kept`);
    }
    fs.renameSync(tmp, file);
    if (!showBar) log(`downloaded ${mb(received)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    if (!closed) await out.close().catch(() => undefined);
    fs.rmSync(tmp, { force: true });
  }
}
