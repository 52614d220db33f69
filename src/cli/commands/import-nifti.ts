import type { Command } from 'commander';

// Placeholder until its issue's work lands: the command exists so `pulse --help` lists it.
export function registerImportNifti(program: Command): void {
  program
    .command('import-nifti')
    .description('(not yet available)')
    .action(() => {
      throw new Error('import-nifti is not available yet');
    });
}
