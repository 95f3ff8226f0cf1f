// A static file server for the built page (`pnpm web`; the tests' server in test/browser/web.ts
// uses its headers and types). It sends the cross-origin isolation headers, which esbuild's own
// server cannot: with them the page has SharedArrayBuffer, and the CPU backend trains on more than
// one thread (Web Workers); a static host that does not send them serves a page that trains on one.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';

/** Cross-origin isolation: the page may use SharedArrayBuffer (all it loads is same-origin). */
export const ISOLATION_HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } as const;

export const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.map': 'application/json',
  '.png': 'image/png',
};

/** Serves the files under `dir` (index.html at /) with the isolation headers; resolves to its URL. */
export async function serveStatic(dir: string, port: number): Promise<string> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const file = join(dir, normalize(path === '/' ? '/index.html' : path));
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end();
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store', ...ISOLATION_HEADERS }).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}
