import type { Command } from 'commander';

// Placeholder until its issue's work lands: the command exists so `pulse --help` lists it.
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('(not yet available)')
    .action(() => {
      throw new Error('serve is not available yet');
    });
}
