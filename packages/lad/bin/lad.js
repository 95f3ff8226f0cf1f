#!/usr/bin/env node
// Launcher of the `lad` command. Installed from npm it runs the compiled dist/cli.js with plain node;
// in the workspace (src/ present: no build step) it registers tsx and runs src/cli.ts.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const src = new URL('../src/cli.ts', import.meta.url);
let cli;
if (existsSync(fileURLToPath(src))) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(src.href);
} else {
  cli = await import('../dist/cli.js');
}
process.exitCode = await cli.main(process.argv.slice(2));
