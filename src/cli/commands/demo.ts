import type { Command } from 'commander';

// Placeholder until its issue's work lands: the command exists so `pulse --help` lists it.
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('(not yet available)')
    .action(() => {
      throw new Error('demo is not available yet');
    });
}
