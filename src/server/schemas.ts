/** The zod schemas of the HTTP face's parameters and bodies: one definition per kind of value. */
import { z } from 'zod';
import { JOB_STATES } from '../queue/job-store.js';

/**
 * A DICOM UID: numeric components separated by single dots, at most 64 characters (PS3.5 9.1).
 * Leading zeros are accepted (older archives write them; we reference UIDs verbatim); `..`, empty
 * components and anything but digits and dots are not.
 */
export const Uid = z
  .string()
  .max(64, 'a UID has at most 64 characters')
  .regex(/^\d+(\.\d+)*$/u, 'a UID is digits in components separated by single dots');

/** A job id: a positive integer, written in decimal. */
export const JobId = z
  .string()
  .regex(/^[1-9]\d{0,14}$/u, 'a job id is a positive integer')
  .transform((text) => Number(text));

export const StudyParams = z.object({ uid: Uid.describe('Study Instance UID') }).strict();
export const JobParams = z.object({ id: JobId.describe('job id') }).strict();

export const JobListQuery = z
  .object({
    state: z.enum(JOB_STATES as [string, ...string[]]).optional().describe('only jobs in this state'),
    limit: z
      .string()
      .regex(/^\d{1,4}$/u, 'limit is an integer from 1 to 1000')
      .transform(Number)
      .refine((n) => n >= 1 && n <= 1000, 'limit is an integer from 1 to 1000')
      .optional()
      .describe('at most this many jobs (1-1000, default 100)'),
  })
  .strict();

/** What the admin may say with a reprocessing request (nothing is required). */
export const ReprocessBody = z.object({ note: z.string().max(200).optional() }).strict();

/** What the Lua webhook posts. */
export const WebhookBody = z
  .object({
    orthancStudyId: z.string().regex(/^[0-9a-f-]{8,64}$/iu, "Orthanc's study id"),
    studyInstanceUID: Uid,
    lastUpdate: z.string().max(64).optional(),
  })
  .strict();

/** An empty JSON object: the body of a state-changing request that needs no data. */
export const EmptyBody = z.object({}).strict();

export const ThumbnailParams = z.object({ uid: Uid.describe('Study Instance UID'), phase: z.enum(['ed', 'es']).describe('ED or ES') }).strict();

/** The dashboard's sign-in. */
export const SessionBody = z.object({ token: z.string().min(1).max(256) }).strict();
