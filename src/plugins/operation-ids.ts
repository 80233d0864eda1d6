// One place names every operation for the OpenAPI document (generated clients use these names)
// and marks the routes that need no API key.
import type { RouteOptions } from 'fastify';
import { OPEN_PATHS } from './auth.js';

const OPERATION_IDS: Record<string, string> = {
  'GET /healthz': 'getHealth',
  'GET /readyz': 'getReadiness',
  'GET /metrics': 'getMetrics',
  'POST /datasets': 'createDataset',
  'GET /datasets': 'listDatasets',
  'GET /datasets/:id': 'getDataset',
  'DELETE /datasets/:id': 'deleteDataset',
  'POST /datasets/:id/triplets': 'appendTriplets',
  'POST /datasets/:id/samples': 'appendSamples',
  'POST /train': 'createTrainingJob',
  'GET /jobs': 'listJobs',
  'GET /jobs/:id': 'getJob',
  'POST /jobs/:id/cancel': 'cancelJob',
  'GET /jobs/:id/events': 'streamJobEvents',
  'GET /models': 'listModels',
  'POST /models': 'importModel',
  'GET /models/:id': 'getModel',
  'DELETE /models/:id': 'deleteModel',
  'GET /models/:id/weights': 'getModelWeights',
  'POST /models/:id/evaluate': 'evaluateModel',
  'POST /embed': 'embed',
  'POST /distances': 'distances',
};

export function nameOperation(route: RouteOptions): void {
  const schema = route.schema as Record<string, unknown> | undefined;
  if (!schema || schema.hide) return;
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const id = OPERATION_IDS[`${methods[0]} ${route.url}`];
  if (id && schema.operationId === undefined) schema.operationId = id;
  if (OPEN_PATHS.has(route.url)) {
    schema.security = [];
    return;
  }
  // Every other route can answer 401 (API keys set) and 503 (shutting down or overloaded).
  const response = (schema.response ?? {}) as Record<string, unknown>;
  if (!response['401'])
    response['401'] = { $ref: 'Error#', description: 'Missing or wrong API key (when API_KEYS is set)' };
  if (!response['503'])
    response['503'] = { $ref: 'Error#', description: 'Overloaded (with Retry-After) or shutting down' };
  schema.response = response;
}
