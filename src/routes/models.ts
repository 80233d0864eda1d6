import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { App } from '../app-types.js';
import { errors, IdParams, ListOf, PageQuery } from '../schemas/common.js';
import { clientSignal, withRetryAfter } from './heavy.js';
import {
  EvaluateBody,
  EvaluateReply,
  ImportModelBody,
  Model,
  ModelRefParams,
  RenameModelBody,
  Weights,
} from '../schemas/models.js';

export default async function modelRoutes(app: App): Promise<void> {
  const { models, evaluation } = app.services;
  const tags = ['models'];

  app.get(
    '/models',
    {
      schema: {
        tags,
        summary: 'List models',
        description: 'Newest first.',
        querystring: PageQuery,
        response: { 200: ListOf(Model), ...errors(400) },
      },
    },
    async (req) => models.list({ limit: req.query.limit ?? 100, cursor: req.query.cursor }),
  );

  app.get(
    '/models/:id',
    {
      schema: {
        tags,
        summary: 'Get a model',
        description:
          'Dimensions, normalisation, the job that trained it and its final training metrics. By id or alias.',
        params: ModelRefParams,
        response: { 200: Model, ...errors(404) },
      },
    },
    async (req) => models.getByRef(req.params.id),
  );

  app.patch(
    '/models/:id',
    {
      schema: {
        tags,
        summary: 'Rename a model',
        description: 'Sets its name (null removes it). Names are free text; aliases are the stable names.',
        params: IdParams,
        body: RenameModelBody,
        response: { 200: Model, ...errors(400, 404, 415) },
      },
    },
    async (req) => models.rename(req.params.id, req.body.name),
  );

  app.get(
    '/models/:id/weights',
    {
      schema: {
        tags,
        summary: "Get a model's weights",
        description:
          'W as k rows of d numbers, streamed: any model the cache can hold (MODEL_CACHE_BYTES) can be exported. By id or alias.',
        params: ModelRefParams,
        response: { 200: Weights, ...errors(404, 422) },
      },
    },
    async (req, reply) =>
      reply
        .type('application/json; charset=utf-8')
        .send(Readable.from(await models.weightsJson(req.params.id)) as never),
  );

  app.post(
    '/models',
    {
      schema: {
        tags,
        summary: 'Import a model',
        description: 'Stores a map learned elsewhere. It then serves like a trained one.',
        body: ImportModelBody,
        response: { 201: Model, ...errors(400, 413, 415, 422) },
      },
    },
    async (req, reply) => reply.code(201).send(await models.import(req.body)),
  );

  app.post(
    '/models/:id/evaluate',
    {
      schema: {
        tags,
        summary: 'Evaluate a model on a dataset',
        description:
          "Mean hinge loss, triplet accuracy and active fraction over the dataset's triplets, and retrieval " +
          'figures over its labelled samples. 422 over EVALUATION_MEMORY_MB or EVALUATION_MAX_WORK; 503 with ' +
          'Retry-After while EVALUATION_CONCURRENCY evaluations run. Stopped when the client disconnects. ' +
          "By id or alias; the reply names the model id. With `galleryId`, the dataset's samples are probes " +
          "against the gallery's items (verification and identification only); 409 GALLERY_MODEL_MISMATCH when " +
          'the gallery holds another model, 422 NO_SAMPLES when the gallery or the dataset is empty.',
        params: ModelRefParams,
        body: EvaluateBody,
        response: { 200: EvaluateReply, ...errors(400, 404, 409, 422, 503) },
      },
    },
    async (req, reply) => {
      const signal = clientSignal(req, reply);
      return withRetryAfter(reply, () => evaluation.evaluate(req.params.id, req.body.datasetId, req.body, signal));
    },
  );

  app.delete(
    '/models/:id',
    {
      schema: {
        tags,
        summary: 'Delete a model',
        description: 'By id. 409 MODEL_IN_USE while an alias points to it (the message names them).',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors(404, 409) },
      },
    },
    async (req, reply) => {
      await models.delete(req.params.id);
      return reply.code(204).send(null);
    },
  );
}
