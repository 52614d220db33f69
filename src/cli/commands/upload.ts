import type { Command } from 'commander';

// Placeholder until its issue's work lands: the command exists so `pulse --help` lists it.
export function registerUpload(program: Command): void {
  program
    .command('upload')
    .description('(not yet available)')
    .action(() => {
      throw new Error('upload is not available yet');
    });
}
