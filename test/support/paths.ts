/** Paths that hold whether a test runs from test/ (tsx) or from dist/test/ (compiled). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'pulse-for-orthanc') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('project root not found');
    dir = parent;
  }
}

export const projectRoot = findRoot(dirname(fileURLToPath(import.meta.url)));
/** ../shared/data beside the project (read-only real data). */
export const sharedData = resolve(projectRoot, '..', 'shared', 'data');
export const pulseBin = join(projectRoot, 'bin', 'pulse.js');
export const bundledManifest = join(projectRoot, 'models', 'pulse-lite', 'manifest.json');
