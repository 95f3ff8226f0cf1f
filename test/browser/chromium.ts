// Headless Chromium for the browser tests (run.ts: the GPU backend; web.ts: the teaching page): a
// local HTTP server whose POST /event receives the page's JSON events, and a Chromium process in its
// own process group (so that its GPU, renderer and zygote helpers end with it), killed by close().
// WebGL2 and WebGPU run on SwiftShader (the CPU); there is no network.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** --chromium PATH, else $CHROMIUM, else /usr/bin/chromium; exits 2 naming the fix when it is missing. */
export function chromiumPath(args: string[], test: string): string {
  const i = args.indexOf('--chromium');
  const path = i >= 0 ? args[i + 1] : (process.env.CHROMIUM ?? '/usr/bin/chromium');
  if (!existsSync(path)) {
    console.error(`${test}: no Chromium at ${path} (apt-get install -y chromium, or pass --chromium PATH)`);
    process.exit(2);
  }
  return path;
}

/** Serves `route` (return false for a 404) and hands each POST /event body, parsed, to `onEvent`. */
export async function eventServer(
  route: (req: IncomingMessage, res: ServerResponse) => boolean,
  onEvent: (e: unknown) => void,
): Promise<{ url: string; close(): void }> {
  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/event') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        res.writeHead(204).end();
        try {
          onEvent(JSON.parse(body));
        } catch (e) {
          console.log(`ERROR bad event from the page: ${String(e)}: ${body.slice(0, 200)}`);
        }
      });
      return;
    }
    if (!route(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => server.close() };
}

export interface ChromiumRun {
  /** Resolves with a reason if Chromium exits before close(). */
  exited: Promise<string>;
  stderr(): string;
  close(): Promise<void>;
}

/** Opens `url` in headless Chromium (extra flags after the defaults, e.g. --screenshot=FILE). */
export function launchChromium(chromium: string, url: string, opts: { verbose?: boolean; flags?: string[] } = {}): ChromiumRun {
  const profile = mkdtempSync(join(tmpdir(), 'lad-chromium-'));
  const flags = [
    '--headless',
    '--no-sandbox', // root in a container
    `--user-data-dir=${profile}`,
    // no network here: keep Chromium from trying
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    '--disable-default-apps',
    '--disable-extensions',
    '--no-default-browser-check',
    '--disable-dev-shm-usage',
    // WebGL2 on ANGLE's SwiftShader (Vulkan on the CPU); WebGPU (off by default on Linux) on Dawn's
    // SwiftShader adapter. (--enable-features=Vulkan is not needed and only logs vkCreateInstance failures.)
    '--use-angle=swiftshader',
    '--enable-unsafe-swiftshader',
    '--enable-unsafe-webgpu',
    ...(opts.flags ?? []),
    url,
  ];
  const proc = spawn(chromium, flags, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const killGroup = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-proc.pid!, sig);
    } catch {
      // already gone
    }
  };
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => {
    stderr += c;
    if (opts.verbose) process.stderr.write(c);
  });
  const exited = new Promise<string>((r) => proc.on('exit', (code, sig) => r(`Chromium exited (code ${code}, signal ${sig})`)));
  return {
    exited,
    stderr: () => stderr,
    async close() {
      if (proc.exitCode === null && proc.signalCode === null) {
        killGroup('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      }
      killGroup('SIGKILL'); // whatever of the group is left
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    },
  };
}
