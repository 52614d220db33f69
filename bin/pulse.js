#!/usr/bin/env node
// The package bin: runs the compiled CLI (built by `npm ci` through the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('pulse: not built yet; run `npm ci` (or `npm run build`) in the project folder first\n');
  process.exit(2);
}
await import(main.href);
