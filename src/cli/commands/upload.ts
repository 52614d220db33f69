/** `pulse upload --orthanc URL DIR`: stores every DICOM file under DIR in Orthanc (REST POST /instances). */
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { OrthancRestClient } from '../../orthanc/rest-client.js';
import { uploadFolder, type UploadEvent, type UploadSummary } from '../../orthanc/upload-folder.js';
import { BadInputError } from '../../core/errors.js';
import { secretFromEnvironment, warnSecretFlags } from '../secret-flags.js';

export interface UploadCommandOptions {
  readonly orthanc: string;
  readonly username?: string;
  readonly password?: string;
}

export function registerUpload(program: Command): void {
  program
    .command('upload')
    .description('store every DICOM file under a folder (recursively) in Orthanc; non-DICOM files are skipped')
    .argument('<dir>', 'folder with DICOM files')
    .option('--orthanc <url>', 'Orthanc base URL', process.env.PULSE_ORTHANC_URL ?? 'http://127.0.0.1:8042')
    .option('--username <name>', 'Orthanc user (basic auth; PULSE_ORTHANC_USERNAME[_FILE])')
    .option('--password <password>', 'Orthanc password (basic auth; better PULSE_ORTHANC_PASSWORD_FILE)')
    .action(async (dir: string, flags: UploadCommandOptions, command: Command) => {
      warnSecretFlags(command, { password: 'PULSE_ORTHANC_PASSWORD' });
      const options: UploadCommandOptions = {
        orthanc: flags.orthanc,
        username: flags.username ?? secretFromEnvironment('PULSE_ORTHANC_USERNAME'),
        password: flags.password ?? secretFromEnvironment('PULSE_ORTHANC_PASSWORD'),
      };
      const summary = await runUpload(dir, options, process.stdout);
      if (summary.failed.length > 0) process.exitCode = 1;
    });
}

/** Runs the upload with a progress bar on a TTY, plain lines otherwise, and prints the summary. */
export async function runUpload(dir: string, options: UploadCommandOptions, out: NodeJS.WriteStream): Promise<UploadSummary> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new BadInputError(`${dir} is not a folder`);
  const client = new OrthancRestClient({
    url: options.orthanc,
    ...(options.username !== undefined ? { username: options.username, password: options.password ?? '' } : {}),
  });
  await client.system(); // fail early, with one clear line, when Orthanc is not there
  const tty = out.isTTY === true;
  let bar: SingleBar | undefined;
  const notes: string[] = [];
  const onFile = (event: UploadEvent): void => {
    if (event.outcome === 'skipped' || event.outcome === 'failed') notes.push(`${event.outcome}: ${event.file}: ${event.reason ?? ''}`);
    if (tty) {
      if (bar === undefined) {
        bar = new SingleBar({ format: 'upload [{bar}] {value}/{total} files', stream: out, hideCursor: true });
        bar.start(event.total, 0);
      }
      bar.update(event.done);
    } else {
      out.write(`[${event.done}/${event.total}] ${event.outcome} ${event.file}${event.reason ? ` (${event.reason})` : ''}\n`);
    }
  };
  let summary: UploadSummary;
  try {
    summary = await uploadFolder(client, dir, { onFile });
  } finally {
    bar?.stop();
  }
  if (tty) for (const note of notes) out.write(`${note}\n`);
  out.write(
    `uploaded to ${client.url}: ${summary.stored} stored, ${summary.alreadyPresent} already present, ` +
      `${summary.skipped.length} skipped, ${summary.failed.length} failed (${summary.total} files, ${summary.studies.length} studies)\n`,
  );
  return summary;
}
