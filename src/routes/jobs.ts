import { Type } from '@sinclair/typebox';
import type { App } from '../app-types.js';
import { inlineTriplets } from '../http/dataset-rows.js';
import { errors, IdParams, ListOf } from '../schemas/common.js';
import { Job, JobsQuery, TrainBody } from '../schemas/jobs.js';

export default async function jobRoutes(app: App): Promise<void> {
  const { jobs } = app.services;
  const tags = ['training'];

  app.post(
    '/train',
    {
      schema: {
        tags,
        summary: 'Queue a training job',
        description:
          'Learns W (outputDimension × d) by minimising the hinged triplet loss on a dataset, in a background worker. ' +
          'Answers 202 with the job and `Location: /jobs/{id}`. Unknown fields are rejected.',
        body: TrainBody,
        response: { 202: Job, ...errors(400, 404, 413, 422, 429) },
      },
    },
    async (req, reply) => {
      const { triplets, ...options } = req.body;
      const job = await jobs.train(options, triplets && inlineTriplets(triplets));
      return reply.code(202).header('location', `/jobs/${job.id}`).send(job);
    },
  );

  app.get(
    '/jobs',
    {
      schema: {
        tags,
        summary: 'List jobs',
        description: 'Newest first; filter with ?status=.',
        querystring: JobsQuery,
        response: { 200: ListOf(Job), ...errors(400) },
      },
    },
    async (req) => jobs.list({ limit: req.query.limit ?? 100, cursor: req.query.cursor, status: req.query.status }),
  );

  app.get(
    '/jobs/:id',
    {
      schema: {
        tags,
        summary: 'Get a job',
        description: 'Status, live progress, final metrics, model id and error.',
        params: IdParams,
        response: { 200: Job, ...errors(404) },
      },
    },
    async (req) => jobs.get(req.params.id),
  );

  app.post(
    '/jobs/:id/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel a job',
        description: 'Stops a queued or running job within a second. 409 when the job has finished.',
        params: IdParams,
        body: Type.Object(
          {},
          { additionalProperties: false, nullable: true, description: 'No fields; the body may be omitted' },
        ),
        response: { 200: Job, ...errors(404, 409) },
      },
    },
    async (req) => jobs.cancel(req.params.id),
  );
}
