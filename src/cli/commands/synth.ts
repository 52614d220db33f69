import type { Command } from 'commander';

// Placeholder until its issue's work lands: the command exists so `pulse --help` lists it.
export function registerSynth(program: Command): void {
  program
    .command('synth')
    .description('(not yet available)')
    .action(() => {
      throw new Error('synth is not available yet');
    });
}
