// PostgreSQL rows to the domain's records: timestamps as Date, json already parsed. What both
// backends share (cursors, checksums, vector bytes) is in rows.ts.
// pg returns timestamptz as Date, bigint (seq, COUNT) as string, json already parsed, bytea as Buffer.
import type { TrainingParams } from '../domain/training.js';
import { jobRecord, type Row } from './rows.js';
import type { AliasRecord, DatasetRecord, JobRecord, ModelRecord } from './types.js';

const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : null);

export function datasetFromRow(r: Row): DatasetRecord {
  return {
    id: r.id as string,
    name: (r.name as string | null) ?? null,
    dimension: r.dimension as number,
    tripletCount: r.triplet_count as number,
    sampleCount: r.sample_count as number,
    labelCount: r.label_count as number,
    createdAt: iso(r.created_at)!,
  };
}

export function jobFromRow(r: Row): JobRecord {
  return jobRecord(r, r as { params: unknown; progress: unknown; metrics: unknown; error: unknown }, {
    createdAt: iso(r.created_at)!,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
  });
}

export const MODEL_COLUMNS =
  'seq, id, job_id, name, input_dimension, output_dimension, normalize, training_params, metrics, created_at';

export function modelFromRow(r: Row): ModelRecord {
  return {
    id: r.id as string,
    jobId: (r.job_id as string | null) ?? null,
    name: (r.name as string | null) ?? null,
    inputDimension: r.input_dimension as number,
    outputDimension: r.output_dimension as number,
    normalize: r.normalize === true,
    trainingParams: (r.training_params as TrainingParams | null) ?? null,
    metrics: (r.metrics as Record<string, unknown> | null) ?? {},
    createdAt: iso(r.created_at)!,
  };
}

export function aliasFromRow(r: Row): AliasRecord {
  return {
    name: r.name as string,
    model: r.model_id as string,
    previousModel: (r.previous_model_id as string | null) ?? null,
    createdAt: iso(r.created_at)!,
    updatedAt: iso(r.updated_at)!,
  };
}
