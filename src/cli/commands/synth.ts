/** `pulse synth`: synthetic cine short-axis studies with exact truth, one folder per study. */
import type { Command } from 'commander';
import { parseIntegerOption } from '../integer-option.js';
import { defaultGroup } from '../../synth/generate.js';
import { generateStudy, SYNTH_DOMAINS, SYNTH_GROUPS, writeStudy, type SynthDomain, type SynthGroup } from '../../synth/index.js';
import { BadInputError } from '../../core/errors.js';

interface SynthCliOptions {
  out?: string;
  seed: string;
  count: string;
  class?: string;
  domain: string;
  slices?: string;
  phases?: string;
  listDomains?: boolean;
}

export function registerSynth(program: Command): void {
  program
    .command('synth')
    .description('write synthetic cine short-axis studies (DICOM + truth.json + labels.bin), one folder per study')
    .option('--out <dir>', 'folder to write the studies into')
    .option('--seed <n>', 'seed of the first study (each next study uses the next seed)', '1')
    .option('--count <n>', 'number of studies', '1')
    .option('--class <group>', `diagnostic group: ${SYNTH_GROUPS.join('|')} (default: drawn from the seed)`)
    .option('--domain <name>', `appearance domain: ${SYNTH_DOMAINS.join('|')}`, 'cine-mri')
    .option('--slices <n>', 'number of short-axis slices (default: drawn from the seed, 8-12)')
    .option('--phases <n>', 'number of cardiac phases (default: drawn from the seed, 20-30)')
    .option('--list-domains', 'print the domain names, one a line, and exit')
    .action(async (options: SynthCliOptions) => {
      if (options.listDomains) {
        process.stdout.write(`${SYNTH_DOMAINS.join('\n')}\n`);
        return;
      }
      if (!options.out) throw new BadInputError('--out <dir> is required');
      const group = options.class?.toUpperCase();
      if (group !== undefined && !(SYNTH_GROUPS as readonly string[]).includes(group)) throw new BadInputError(`--class must be one of ${SYNTH_GROUPS.join(', ')}, got ${options.class}`);
      if (!(SYNTH_DOMAINS as readonly string[]).includes(options.domain)) throw new BadInputError(`--domain must be one of ${SYNTH_DOMAINS.join(', ')}, got ${options.domain}`);
      const seed = parseIntegerOption(options.seed ?? '1', '--seed', { min: 0, max: Number.MAX_SAFE_INTEGER - 1_000_000 });
      const count = parseIntegerOption(options.count ?? '1', '--count', { min: 1, max: 1_000_000 });
      const slices = options.slices === undefined ? undefined : parseIntegerOption(options.slices, '--slices', { min: 2, max: 30 });
      const phases = options.phases === undefined ? undefined : parseIntegerOption(options.phases, '--phases', { min: 2, max: 60 });
      for (let i = 0; i < count; i++) {
        const study = generateStudy({
          seed: seed + i,
          group: (group as SynthGroup | undefined) ?? defaultGroup(seed + i),
          domain: options.domain as SynthDomain,
          ...(slices !== undefined ? { slices } : {}),
          ...(phases !== undefined ? { phases } : {}),
        });
        const dir = await writeStudy(options.out, study);
        const m = study.truth.measurements;
        process.stdout.write(`${dir}\t${study.truth.group}\t${study.truth.grid.slices}x${study.truth.grid.phases}\tLVEF ${m.lvef_pct.toFixed(1)}%\tRVEF ${m.rvef_pct.toFixed(1)}%\n`);
      }
    });
}
