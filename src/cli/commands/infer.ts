import type { Command } from 'commander';

// Placeholder until its issue's work lands: the command exists so `pulse --help` lists it.
export function registerInfer(program: Command): void {
  program
    .command('infer')
    .description('(not yet available)')
    .action(() => {
      throw new Error('infer is not available yet');
    });
}
