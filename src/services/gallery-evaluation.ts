// POST /models/:id/evaluate with a galleryId (docs/decisions/0038): the gallery's enrolled items
// (their stored embeddings of the gallery's model, with their labels) against the labelled samples
// of a dataset as probes. Verification over every probe × item pair, identification with the
// items as the gallery (CMC for probes whose label is enrolled, open-set DIR for the others). The
// cost is worked out from the record counts before anything is read, again from the real pair
// counts once the labels are read, and the numbers come from a worker like the dataset
// evaluation's (pairs streamed in chunks: memory bounded by the cost below).
import type { ComputeSettings } from '../compute/index.js';
import type { Limits } from '../config.js';
import type { GalleryRecord } from '../domain/galleries.js';
import { AppError, badRequest, conflict, notFound, unprocessable } from '../errors.js';
import type { EvaluateGalleryTask, EvaluateResult, EvaluateVerificationOptions } from '../jobs/messages.js';
import { runTask, TaskAbortedError } from '../jobs/worker-pool.js';
import { DEFAULT_MARGIN } from '../math/index.js';
import { crossPairCounts, NO_LABEL } from '../math/verification/index.js';
import type { EvaluateReply, IdentificationOptions, VerificationOptions } from '../schemas/models.js';
import type { DatasetRecord, Label, Store } from '../store/types.js';
import { identificationOptions, pairPassCost, verificationOptions } from './labelled-metrics.js';
import { checkEvaluationBudgets } from './evaluation-budget.js';
import { defaultMetric } from './model-metric.js';
import type { LoadedModel } from './models.js';
import { clientGone, type TaskGate } from './task-gate.js';

export interface GalleryEvaluateRequest {
  margin?: number;
  verification?: VerificationOptions;
  identification?: IdentificationOptions;
}

/** What the gallery evaluation runs with: the evaluation service's store, gate, settings. */
export interface GalleryEvaluationContext {
  store: Store;
  gate: TaskGate;
  compute: ComputeSettings;
  limits: Limits;
}

/** What the cost depends on: g items, p probes (d features), a k×d model, and, once read, the pairs. */
export interface GalleryEvaluationCounts {
  g: number;
  p: number;
  d: number;
  k: number;
  /** genuine and impostor probe × item pairs; unknown before the labels are read */
  pairs?: { genuine: number; impostors: number };
}

/** Per item or probe, the JS strings and objects of its id and label as read (an allowance). */
const ROW_OVERHEAD = 160;

/**
 * The cost of evaluating p probes against g items with a k×d model; n = g + p.
 * Bytes: the items' embeddings as read and stacked with the probes' (4·g·k + 4·n·k), the probes
 * read (4·p·d), label ids (8·n), ids and labels as read (160·n), W and its copy (16·k·d), per probe
 * ranked one gallery of distances (8·g) and its result (48·p); with the pair counts, the
 * verification pass over the p·g pairs (labelled-metrics.ts pairPassCost).
 * Work, in multiply-adds: embedding the probes (k·d·p), ranking every probe against every item
 * (p·g·(k + 2)); with the pair counts, that pass's work; before them, one pass's label tests.
 */
export function galleryEvaluationCost(
  c: GalleryEvaluationCounts,
  v: EvaluateVerificationOptions,
): { bytes: number; work: number; verificationBytes: number } {
  const { g, p, d, k } = c;
  const n = g + p;
  const cross = p * g;
  let bytes = 4 * g * k + 4 * n * k + 4 * p * d + 8 * n + ROW_OVERHEAD * n + 16 * k * d + 8 * g + 48 * p;
  let work = k * d * p + cross * (k + 2);
  let verificationBytes = 0;
  if (c.pairs) {
    const pass = pairPassCost(c.pairs, cross, k, v);
    verificationBytes = pass.bytes;
    bytes += pass.bytes;
    work += pass.work;
  } else {
    work += 2 * cross;
  }
  return { bytes, work, verificationBytes };
}

function checkBudgets(
  limits: Limits,
  c: GalleryEvaluationCounts,
  v: EvaluateVerificationOptions,
  gallery: string,
  dataset: string,
) {
  const what = `evaluating a ${c.k}×${c.d} model on gallery ${gallery} (${c.g} items) with the ${c.p} samples of dataset ${dataset} as probes`;
  checkEvaluationBudgets(
    limits,
    what,
    galleryEvaluationCost(c, v),
    " (k·d·p + p·g·(k + 2), and the verification pass's pairs, sorting and passes; docs/operations.md)",
  );
}

/** Refused before anything is read: what does not apply to a gallery, a gallery of another model, no data. */
function checkTarget(model: LoadedModel, g: GalleryRecord, ds: DatasetRecord, request: GalleryEvaluateRequest): void {
  if (request.margin !== undefined)
    throw badRequest('VALIDATION_ERROR', 'body/margin applies to triplets, which a gallery evaluation does not score');
  for (const field of ['unknownFraction', 'seed'] as const)
    if (request.identification?.[field] !== undefined)
      throw badRequest(
        'VALIDATION_ERROR',
        `body/identification/${field} sets the seeded split of a dataset; with galleryId the gallery is the enrolled set`,
      );
  if (g.model !== model.record.id)
    throw conflict(
      'GALLERY_MODEL_MISMATCH',
      `gallery ${g.id} holds embeddings of model ${g.model}, not of ${model.record.id}; evaluate it with ` +
        `POST /models/${g.model}/evaluate (or reindex it onto ${model.record.id} first)`,
    );
  if (ds.dimension !== model.d)
    throw badRequest(
      'DIMENSION_MISMATCH',
      `dataset ${ds.id} has dimension ${ds.dimension}, model ${model.record.id} expects ${model.d}`,
    );
  if (g.itemCount === 0) throw unprocessable('NO_SAMPLES', `gallery ${g.id} has no items to evaluate against`);
  if (ds.sampleCount === 0)
    throw unprocessable('NO_SAMPLES', `dataset ${ds.id} has no labelled samples to use as probes`);
}

/** Label ids shared by the items and the probes (a label's type counts, as labelIds), −1 for none. */
function sharedLabelIds(items: readonly (Label | null)[], probes: readonly Label[]) {
  const ids = new Map<string, number>();
  const names: Label[] = [];
  const id = (l: Label) => {
    const key = `${typeof l}:${l}`;
    let v = ids.get(key);
    if (v === undefined) {
      ids.set(key, (v = names.length));
      names.push(l);
    }
    return v;
  };
  const enrolled = Int32Array.from(items, (l) => (l === null ? NO_LABEL : id(l)));
  const labelCount = names.length;
  const probeIds = Int32Array.from(probes, id);
  return { enrolled, probes: probeIds, names, labelCount };
}

export async function evaluateGallery(
  ctx: GalleryEvaluationContext,
  model: LoadedModel,
  ds: DatasetRecord,
  galleryId: string,
  request: GalleryEvaluateRequest,
  signal?: AbortSignal,
): Promise<EvaluateReply> {
  const gallery = await ctx.store.getGallery(galleryId);
  if (!gallery) throw notFound('GALLERY_NOT_FOUND', `gallery ${galleryId} does not exist`);
  checkTarget(model, gallery, ds, request);
  const verification = verificationOptions(request.verification);
  const { ranks, fars } = identificationOptions(request.identification);
  const identification = { ranks, fars };
  const counts = { g: gallery.itemCount, p: ds.sampleCount, d: model.d, k: model.k };
  checkBudgets(ctx.limits, counts, verification, gallery.id, ds.id);
  return ctx.gate.run(async () => {
    const read = await ctx.store.readGalleryEmbeddings(gallery.id);
    // a reindex may have committed or items gone since the first look: the read is what counts
    checkTarget(model, read.gallery, ds, {});
    const stored = await ctx.store.readSamples(ds.id);
    if (signal?.aborted) throw clientGone('the evaluation');
    if (stored.count === 0)
      throw unprocessable('NO_SAMPLES', `dataset ${ds.id} has no labelled samples to use as probes`);
    const g = read.ids.length;
    const labels = sharedLabelIds(read.labels, stored.labels);
    const n = g + stored.count;
    const stacked = new Int32Array(n);
    stacked.set(labels.enrolled);
    stacked.set(labels.probes, g);
    const pairs = crossPairCounts(stacked, n, g);
    // counted before the task: its buffers are transferred to the worker (detached here)
    const unlabelledCount = labels.enrolled.filter((l) => l === NO_LABEL).length;
    checkBudgets(ctx.limits, { ...counts, g, p: stored.count, pairs }, verification, gallery.id, ds.id);
    // scored in the distance the gallery's searches use by default: thresholds pass as maxDistance
    const metric = defaultMetric(model);
    const task: EvaluateGalleryTask = {
      kind: 'evaluateGallery',
      W: model.W.slice(),
      k: model.k,
      normalize: model.record.normalize,
      probes: { count: stored.count, dimension: stored.dimension, data: stored.data, labels: labels.probes },
      enrolled: { count: g, embeddings: read.embeddings, labels: labels.enrolled },
      compute: ctx.compute,
      metric,
      verification,
      identification,
    };
    let result: EvaluateResult;
    try {
      result = await runTask<EvaluateResult>(task, (m) => (m.type === 'evaluated' ? m.result : undefined), {
        signal,
      });
    } catch (e) {
      if (e instanceof TaskAbortedError) throw clientGone('the evaluation');
      if ((e as { code?: string }).code === 'NON_FINITE_VALUE')
        throw unprocessable('NON_FINITE_VALUE', (e as Error).message);
      throw new AppError(500, 'INTERNAL_ERROR', `evaluation failed: ${(e as Error).message}`);
    }
    const { impostorPasses: _passes, curve, ...figures } = result.verification!;
    const id = result.identification!;
    const reply: EvaluateReply = {
      model: model.record.id,
      loss: null,
      tripletAccuracy: null,
      activeFraction: null,
      count: 0,
      margin: model.record.trainingParams?.margin ?? DEFAULT_MARGIN,
      verification: {
        distance: metric,
        ...figures,
        maxGenuinePairs: verification.maxGenuinePairs,
        maxImpostorPairs: verification.maxImpostorPairs,
        seed: verification.seed,
        ...(curve ? { curve } : {}),
      },
      identification: { ...id, unknownLabels: id.unknownLabels.map((l) => labels.names[l]) },
      gallery: {
        id: read.gallery.id,
        version: read.gallery.version,
        itemCount: g,
        labelCount: labels.labelCount,
        unlabelledCount,
        datasetId: ds.id,
        probeCount: stored.count,
      },
    };
    return reply;
  }, signal);
}
