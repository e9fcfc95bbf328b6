/**
 * Serves the built browser example on 127.0.0.1 (static files through `sirv`): the page at `/`, and the repository's
 * `runs/` folder at `/runs/`, where the page's default checkpoint (`runs/quickstart/model_0000150.safetensors`,
 * written by `npm run quickstart`) is.
 *
 * `npm run web-example [-- --port N]` builds, then serves until Ctrl-C; `serveWebExample()` from code (the browser
 * test mounts its own checkpoint folder).
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import sirv from 'sirv';
import { buildWebExample, WEB_EXAMPLE_OUT } from './build';

const REPO = path.resolve(__dirname, '..', '..');

/** A folder served under a URL prefix. */
export interface Mount {
  /** URL path prefix, starting and ending with `/` (`/runs/`). */
  prefix: string;
  /** The folder whose files answer it. */
  dir: string;
}

/** Options of {@link serveWebExample}. */
export interface ServeOptions {
  /** The built page (default `examples/web/dist`). */
  root?: string;
  /** More folders to serve (default: the repository's `runs/` at `/runs/`). */
  mounts?: Mount[];
  /** TCP port on 127.0.0.1; 0 (the default) lets the system pick a free one. */
  port?: number;
}

/** A running server: the page's URL and how to stop it. */
export interface WebExampleServer {
  /** `http://127.0.0.1:PORT/`. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serve the built page and the mounts on 127.0.0.1. Files are read on each request (`sirv`'s dev mode): a
 * checkpoint written after the server started is served too.
 * @throws Error when the port cannot be bound.
 */
export async function serveWebExample(opts: ServeOptions = {}): Promise<WebExampleServer> {
  const mounts = [...(opts.mounts ?? [{ prefix: '/runs/', dir: path.join(REPO, 'runs') }]), { prefix: '/', dir: opts.root ?? WEB_EXAMPLE_OUT }]
    .sort((a, b) => b.prefix.length - a.prefix.length)
    .map((m) => ({ prefix: m.prefix, serve: sirv(m.dir, { dev: true }) }));
  const server = http.createServer((req, res) => {
    const notFound = () => {
      res.statusCode = 404;
      res.end('not found');
    };
    const url = req.url ?? '/';
    const m = mounts.find((h) => url.startsWith(h.prefix));
    if (!m) return notFound();
    req.url = `/${url.slice(m.prefix.length)}`;
    m.serve(req, res, notFound);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}

if (require.main === module) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 8080;
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) {
    process.stderr.write(`web example: --port ${process.argv[i + 1]}: expected a TCP port 0..65535\n`);
    process.exit(1);
  }
  buildWebExample()
    .then(() => serveWebExample({ port }))
    .then(
      (s) => process.stdout.write(`serving the browser example at ${s.url} (Ctrl-C stops); another checkpoint: ${s.url}?checkpoint=URL\n`),
      (e: unknown) => {
        process.stderr.write(`web example: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exit(1);
      },
    );
}
