import type { Command } from 'commander';

// Placeholder until its issue's work lands: the command exists so `pulse --help` lists it.
export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('(not yet available)')
    .action(() => {
      throw new Error('eval is not available yet');
    });
}
