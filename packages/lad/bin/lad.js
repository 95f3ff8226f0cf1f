#!/usr/bin/env node
// Launcher of the `lad` command: registers tsx so that the TypeScript sources run without a build
// step, then runs src/cli.ts's main on the command-line arguments.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
