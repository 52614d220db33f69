/**
 * The calibration routes of the HTTP face: list and show (viewer), calibrate from Orthanc, activate,
 * deactivate and roll back (admin: they change what every later job runs with). Mounted through the
 * route table (src/server/route.ts), so authentication, validation and the OpenAPI document apply.
 */
import { z } from 'zod';
import { calibrationSummary } from '../calibration/summary.js';
import { BadInputError } from '../core/errors.js';
import type { CalibrationStore } from '../pipeline/calibration-store.js';
import type { CalibrationRunner } from '../service/calibration-runner.js';
import { HttpError } from './app.js';
import { adminRoute, viewerRoute, type RouteSpec } from './route.js';
import { EmptyBody, Uid } from './schemas.js';

const CalibrationParams = z.object({ id: z.string().regex(/^cal-\d{8}-\d{6}-[0-9a-f]{6}$/u, 'a calibration id is cal-YYYYMMDD-HHMMSS-xxxxxx').describe('calibration id') }).strict();
const RunParams = z.object({ run: z.string().regex(/^[1-9]\d{0,9}$/u, 'a run id is a positive integer').transform(Number).describe('calibration run id') }).strict();
const CalibrateBody = z
  .object({
    studyInstanceUIDs: z.array(Uid).max(200).optional().describe('annotated studies in Orthanc (images + a MANUAL/SEMIAUTOMATIC reference SEG)'),
    metadata: z.object({ name: z.string().min(1).max(64), value: z.string().min(1).max(256) }).strict().optional().describe('or: every study carrying this user metadata value'),
  })
  .strict();

export function calibrationRoutes(store: CalibrationStore, runner: CalibrationRunner): RouteSpec[] {
  const notFound = (error: unknown): never => {
    if (error instanceof BadInputError) throw new HttpError(404, error.message);
    throw error;
  };
  return [
    viewerRoute('/api/calibrations', { summary: 'every stored calibration (newest first) and the active ones', responses: { 200: 'the list' } }, ({ res }) => {
      res.json({
        active: store.state().active,
        calibrations: store.list().map(({ profile, status }) => ({ ...calibrationSummary(profile), status, created: profile.created, model: profile.model })),
      });
    }),
    viewerRoute<{ run: number }>('/api/calibrations/runs/:run', { summary: 'progress and outcome of a calibration run', params: RunParams, responses: { 200: 'the run', 404: 'no such run' } }, ({ params, res }) => {
      const run = runner.get(params.run);
      if (!run) throw new HttpError(404, `no calibration run ${params.run}`);
      res.json({ ...run, profile: run.profile ? calibrationSummary(run.profile) : undefined });
    }),
    viewerRoute<{ id: string }>('/api/calibrations/:id', { summary: 'one calibration in full (scope, metrics, parameters, status)', params: CalibrationParams, responses: { 200: 'the calibration', 404: 'no such calibration' } }, ({ params, res }) => {
      try {
        const profile = store.get(params.id);
        res.json({ ...profile, status: store.statusOf(profile) });
      } catch (error) {
        notFound(error);
      }
    }),
    adminRoute<Record<string, never>, Record<string, never>, z.infer<typeof CalibrateBody>>(
      'post',
      '/api/calibrations',
      { summary: 'calibrate from annotated studies in Orthanc (runs in the background; promoted only when better)', body: CalibrateBody, responses: { 202: 'started', 409: 'a calibration is already running' } },
      ({ body, res }) => {
        try {
          const run = runner.start({ ...(body.studyInstanceUIDs ? { studyInstanceUIDs: body.studyInstanceUIDs } : {}), ...(body.metadata ? { metadata: body.metadata } : {}) });
          res.status(202).json({ run: run.id, state: run.state, progress: `/api/calibrations/runs/${run.id}` });
        } catch (error) {
          if (error instanceof BadInputError) throw new HttpError(/already running/.test(error.message) ? 409 : 400, error.message);
          throw error;
        }
      },
    ),
    adminRoute<{ run: number }, Record<string, never>, Record<string, never>>(
      'post',
      '/api/calibrations/runs/:run/cancel',
      { summary: 'cancel a running calibration (it stops at its next unit of work and stores nothing)', params: RunParams, body: EmptyBody, responses: { 202: 'cancelling', 404: 'no such run', 409: 'the run is not running' } },
      ({ params, res }) => {
        const run = runner.get(params.run);
        if (!run) throw new HttpError(404, `no calibration run ${params.run}`);
        if (!runner.cancel(params.run)) throw new HttpError(409, `calibration run ${params.run} is ${run.state}`);
        res.status(202).json({ run: run.id, state: run.state });
      },
    ),
    adminRoute<Record<string, never>, Record<string, never>, Record<string, never>>(
      'post',
      '/api/calibrations/rollback',
      { summary: 'restore the active calibrations as they were before the last change', body: EmptyBody, responses: { 200: 'the active calibrations', 409: 'nothing to roll back' } },
      ({ res }) => {
        try {
          res.json({ active: store.rollback().active });
        } catch (error) {
          if (error instanceof BadInputError) throw new HttpError(409, error.message);
          throw error;
        }
      },
    ),
    ...(['activate', 'deactivate'] as const).map((action) =>
      adminRoute<{ id: string }, Record<string, never>, Record<string, never>>(
        'post',
        `/api/calibrations/:id/${action}`,
        { summary: `${action} a calibration (new jobs use the change at once)`, params: CalibrationParams, body: EmptyBody, responses: { 200: 'the active calibrations', 404: 'no such calibration' } },
        ({ params, res }) => {
          try {
            res.json({ active: store[action](params.id).active });
          } catch (error) {
            notFound(error);
          }
        },
      ),
    ),
  ];
}
