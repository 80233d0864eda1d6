// Model evaluation on a dataset's triplets and labelled samples, off the main thread (datasets can
// be large): the data and the weights are read here and handed to a worker. Before anything is
// read, the evaluation's memory and work are worked out from the dataset's counts and refused
// over their budgets; at most EVALUATION_CONCURRENCY run at once, and one whose client hangs up
// is stopped (its worker and compute threads terminated).
import type { ComputeSettings } from '../compute/index.js';
import { labelIds } from '../compute/training-data.js';
import type { Limits } from '../config.js';
import { AppError, badRequest, unprocessable } from '../errors.js';
import type { EvaluateIdentificationOptions, EvaluateResult, EvaluateVerificationOptions } from '../jobs/messages.js';
import { runTask, TaskAbortedError } from '../jobs/worker-pool.js';
import { DEFAULT_MARGIN } from '../math/index.js';
import { MAX_SCALE_FREE } from '../domain/training.js';
import { pairCounts } from '../math/verification/index.js';
import type { EvaluateReply, IdentificationOptions, VerificationOptions } from '../schemas/models.js';
import type { DatasetRecord, Store } from '../store/types.js';
import type { DatasetService } from './datasets.js';
import type { LoadedModel, ModelService } from './models.js';
import {
  identificationOptions,
  labelNames,
  shapeLabelled,
  verificationCost,
  verificationOptions,
  type EvaluateFigures,
  type LabelledCounts,
} from './labelled-metrics.js';
import { evaluateGallery } from './gallery-evaluation.js';
import { checkEvaluationBudgets } from './evaluation-budget.js';
import { defaultMetric } from './model-metric.js';
import { clientGone, TaskGate } from './task-gate.js';

/** What POST /models/:id/evaluate may ask besides the dataset. */
export interface EvaluateRequest {
  margin?: number;
  verification?: VerificationOptions;
  identification?: IdentificationOptions;
  /** a gallery of the model: the dataset's samples are probes against its items (gallery-evaluation.ts) */
  galleryId?: string;
}

interface LabelledPlan {
  verification: EvaluateVerificationOptions;
  identification: EvaluateIdentificationOptions;
}

/** Queries whose distances the retrieval metrics hold at once (src/math/metrics.ts CHUNK). */
const QUERY_BLOCK = 64;
/** Per pair of samples, beyond the k multiply-adds of its distance: the distance's form and the ranking. */
const PAIR_OVERHEAD = 8;

export interface EvaluationCost {
  bytes: number;
  work: number;
}

/**
 * The cost of evaluating a k×d model on m triplets and n samples (the retrieval metrics need n ≥ 2).
 * Bytes: the triplets read and their split into anchors, positives and negatives (2·4·d·3m), the
 * samples read (4·d·n), the labels (4n), the copy of W sent to the worker (8·k·d), the embeddings
 * (4·n·k) and two blocks of distances (2·8·min(64, n)·n).
 * Work, in multiply-adds: embedding every vector (k·d·(3m + n)) and every pair of samples (n²·(k + 8)).
 */
export function evaluationCost(m: number, n: number, d: number, k: number): EvaluationCost {
  const r = n > 1 ? n : 0;
  const bytes = 4 * d * (6 * m + n) + 4 * n + 8 * k * d + 4 * r * k + 2 * 8 * Math.min(QUERY_BLOCK, r) * r;
  const work = k * d * (3 * m + n) + r * r * (k + PAIR_OVERHEAD);
  return { bytes, work };
}

export class EvaluationService {
  private readonly gate: TaskGate;

  constructor(
    private readonly store: Store,
    private readonly models: ModelService,
    private readonly datasets: DatasetService,
    private readonly compute: ComputeSettings,
    private readonly limits: Limits,
  ) {
    // No queue: an evaluation can run for seconds, and a queue of them would only hold requests
    // (and, for clients that gave up, nothing at all).
    this.gate = new TaskGate('evaluation (EVALUATION_CONCURRENCY)', limits.evaluationConcurrency, 0, 5);
  }

  /** evaluations running now */
  get active(): number {
    return this.gate.active;
  }

  /** `modelRef`: a model id or an alias; the reply names the model id it resolved to. */
  async evaluate(
    modelRef: string,
    datasetId: string,
    request: EvaluateRequest,
    signal?: AbortSignal,
  ): Promise<EvaluateReply> {
    const { margin } = request;
    const model = await this.models.resolve(modelRef);
    const ds = await this.datasets.get(datasetId);
    if (request.galleryId !== undefined) {
      const ctx = { store: this.store, gate: this.gate, compute: this.compute, limits: this.limits };
      return evaluateGallery(ctx, model, ds, request.galleryId, request, signal);
    }
    if (ds.dimension !== model.d) {
      throw badRequest(
        'DIMENSION_MISMATCH',
        `dataset ${ds.id} has dimension ${ds.dimension}, model ${model.record.id} expects ${model.d}`,
      );
    }
    if (ds.tripletCount === 0 && ds.sampleCount < 2) {
      throw unprocessable('NO_TRIPLETS', `dataset ${ds.id} has no triplets and too few samples to evaluate on`);
    }
    const plan: LabelledPlan = {
      verification: verificationOptions(request.verification),
      identification: identificationOptions(request.identification),
    };
    this.checkBudgets(ds, model.k, plan, null);
    const result = await this.gate.run(() => this.run(model, ds, margin, plan, signal), signal);
    return { model: model.record.id, ...result };
  }

  /**
   * Refuses an evaluation over the memory or work budget: before anything is read, on what the
   * dataset's counts fix (reading it, retrieval); again once the labels are read, with the
   * verification pass costed on the real pair and label counts, before the worker starts.
   */
  private checkBudgets(ds: DatasetRecord, k: number, plan: LabelledPlan, counts: LabelledCounts | null): void {
    const { tripletCount: m, sampleCount: n, dimension: d } = ds;
    const base = evaluationCost(m, n, d, k);
    const labelled = counts ? verificationCost(counts, k, plan.verification) : { bytes: 0, work: 0 };
    const cost = { bytes: base.bytes + labelled.bytes, work: base.work + labelled.work };
    const what = `evaluating a ${k}×${d} model on dataset ${ds.id} (${m} triplets, ${n} samples)`;
    checkEvaluationBudgets(
      this.limits,
      what,
      { ...cost, verificationBytes: labelled.bytes },
      `, k·d·(3m + n) + n²·(k + 8) and the verification pass's ${labelled.work.toExponential(2)} ` +
        '(pairs, sorting, passes; docs/operations.md)',
    );
  }

  private async run(
    model: LoadedModel,
    ds: DatasetRecord,
    margin: number | undefined,
    plan: LabelledPlan,
    signal?: AbortSignal,
  ): Promise<EvaluateFigures> {
    const triplets = await this.store.readTriplets(ds.id);
    const stored = await this.store.readSamples(ds.id);
    if (signal?.aborted) throw clientGone('the evaluation');
    const labels = labelIds(stored.labels);
    // Rows appended since the first check are evaluated too, if they still fit; the verification
    // pass is now costed on the real pair and label counts.
    const pairs = pairCounts(labels, stored.count);
    const names = labelNames(stored.labels, labels);
    this.checkBudgets({ ...ds, tripletCount: triplets.count, sampleCount: stored.count }, model.k, plan, {
      n: stored.count,
      ...pairs,
      labels: names.length,
    });
    const samples = { count: stored.count, dimension: stored.dimension, data: stored.data, labels };
    // The margin the model was trained with, unless the request names one.
    const trained = model.record.trainingParams?.margin ?? DEFAULT_MARGIN;
    if (margin === undefined && !(trained <= MAX_SCALE_FREE)) {
      // a job queued before the bound existed: its loss over the triplets could overflow
      throw unprocessable(
        'LIMIT_EXCEEDED',
        `model ${model.record.id} was trained with margin ${trained}, past the largest a margin may be (${MAX_SCALE_FREE}); name body/margin`,
      );
    }
    // verification and identification score their pairs in the distance the model's searches use,
    // so a threshold is a distance such a search computes (not one converted from another metric)
    const metric = defaultMetric(model);
    try {
      const result = await runTask<EvaluateResult>(
        {
          kind: 'evaluate',
          // a copy: the cached weights stay with the model
          W: model.W.slice(),
          k: model.k,
          normalize: model.record.normalize,
          margin: margin ?? trained,
          triplets,
          samples,
          compute: this.compute,
          metric,
          ...plan,
        },
        (m) => (m.type === 'evaluated' ? m.result : undefined),
        { signal },
      );
      return shapeLabelled(result, plan.verification, plan.identification, names, metric);
    } catch (e) {
      if (e instanceof TaskAbortedError) throw clientGone('the evaluation');
      if ((e as { code?: string }).code === 'NON_FINITE_VALUE')
        throw unprocessable('NON_FINITE_VALUE', (e as Error).message);
      throw new AppError(500, 'INTERNAL_ERROR', `evaluation failed: ${(e as Error).message}`);
    }
  }
}
