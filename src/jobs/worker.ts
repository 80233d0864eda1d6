// Worker-thread entry: runs the pure math on the data and parameters its task carries, and reports
// by message. Training runs here so the main thread keeps serving while a model learns. It opens
// no database and reads no environment: everything arrives in the task.
import { isDeepStrictEqual } from 'node:util';
import { deserialize, serialize } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { createCompute, startHelpers, type Compute, type StartedHelpers } from '../compute/index.js';
import { gatherTripletSet, splitIndices, toIndexedSet, toTripletSet } from '../compute/training-data.js';
import {
  distanceByName,
  embed,
  evaluateTriplets,
  retrievalMetrics,
  seededRandom,
  train,
  trainMined,
  type Kernels,
  type MinedTrainResult,
  type TrainCheckpoint,
  type TrainResult,
} from '../math/index.js';
import { checkTrainCheckpoint } from '../math/checkpoint.js';
import {
  crossVerificationMetrics,
  gallerySplitOf,
  identificationMetrics,
  identifySplit,
  verificationMetrics,
} from '../math/verification/index.js';
import { checkMinedCheckpoint, type MinedCheckpoint } from '../math/mining/checkpoint.js';
import { minedTrainParams } from '../compute/mined-params.js';
import {
  checkEmbeddable,
  checkEmbeddings,
  checkTrainedW,
  memoryError,
  nonFiniteRun,
} from '../compute/worker-checks.js';
import type {
  ComputePlan,
  EvaluateGalleryTask,
  EvaluateResult,
  EvaluateTask,
  GatherTripletsTask,
  MinedTrainingParams,
  SampleData,
  Task,
  TrainTask,
  IndexedTripletData,
  TripletData,
  TripletTrainingParams,
  TaskMessage,
  WorkerMessage,
  WorkerStart,
} from './messages.js';

const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);

/**
 * How often the trainer reports. A message is cheap; the runner coalesces what reaches the store
 * (PROGRESS_WRITE_MS), so a client sees a point at most ~0.35 s after the worker reached it.
 */
const PROGRESS_INTERVAL_MS = 100;

function hooks(task: TrainTask) {
  const control = new Int32Array(task.control);
  return {
    onProgress: (progress: object) => post({ type: 'progress', progress: { ...progress } as never }),
    shouldStop: () => Atomics.load(control, 0) !== 0,
    progressIntervalMs: PROGRESS_INTERVAL_MS,
  };
}

/**
 * Checkpoint hooks on the worker's own clock: one at the first iteration boundary
 * CHECKPOINT_INTERVAL_MS after the start or the previous one, serialised (v8, structured-cloneable
 * typed arrays and numbers) and posted with its buffer transferred. None when the interval is 0.
 */
function checkpointHooks(task: TrainTask) {
  const interval = task.checkpointIntervalMs ?? 0;
  if (!(interval > 0)) return {};
  let last = performance.now();
  return {
    checkpointDue: () => performance.now() - last >= interval,
    onCheckpoint: (c: { iteration: number }) => {
      const bytes = serialize(c);
      // v8 may hand out a view of a larger buffer: transfer exactly the checkpoint's bytes
      const data =
        bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
          ? new Uint8Array(bytes.buffer, 0, bytes.byteLength)
          : Uint8Array.from(bytes);
      post({ type: 'checkpoint', iteration: c.iteration, data }, [data.buffer as ArrayBuffer]);
      last = performance.now();
    },
  };
}

const rejectResume = (e: unknown) =>
  post({ type: 'resumeRejected', message: e instanceof Error ? e.message : String(e) });

/**
 * Runs `start` from the task's checkpoint when it has one that matches the run, else from zero. A
 * checkpoint of another run (the core's RangeError "checkpoint…", from `check` or from the
 * trainer's own set-up, before any step) or bytes that do not decode are reported, not fatal.
 */
function resumable<C extends { iteration: number }, R>(
  task: TrainTask,
  check: (c: C) => void,
  start: (resumeFrom?: C) => R,
): R {
  if (!task.resumeFrom) return start();
  let c: C;
  try {
    c = deserialize(task.resumeFrom) as C;
    check(c);
  } catch (e) {
    rejectResume(e);
    return start();
  }
  post({ type: 'resumed', iteration: c.iteration });
  try {
    return start(c);
  } catch (e) {
    if (!(e instanceof RangeError && e.message.startsWith('checkpoint'))) throw e;
    rejectResume(e);
    return start();
  }
}

function missing(what: string): Error {
  return Object.assign(new Error(`the task carries no ${what}`), { code: 'TRAINING_FAILED' });
}

/** The training and validation sets of a triplet job, in the shape the triplets came in. */
function tripletSets(stored: TripletData | IndexedTripletData, split: ReturnType<typeof splitIndices> | null) {
  const validating = split !== null && split.validation.length > 0;
  if ('refs' in stored) {
    return {
      trainSet: toIndexedSet(stored, split?.train),
      validationSet: validating ? gatherTripletSet(stored, split.validation) : null,
    };
  }
  return {
    trainSet: toTripletSet(stored, split?.train),
    validationSet: validating ? toTripletSet(stored, split.validation) : null,
  };
}

function trainOnTriplets(
  task: TrainTask,
  p: TripletTrainingParams,
  stored: TripletData | IndexedTripletData,
  kernels: Kernels,
): void {
  const split =
    p.validationFraction > 0 ? splitIndices(stored.count, p.validationFraction, seededRandom(p.seed)) : null;
  const { trainSet, validationSet } = tripletSets(stored, split);
  const result = resumable<TrainCheckpoint, TrainResult>(
    task,
    (c) => checkTrainCheckpoint(c, trainSet, p),
    (resumeFrom) => train(trainSet, p, { ...hooks(task), ...checkpointHooks(task), resumeFrom }, kernels),
  );
  checkTrainedW(result.W, result.metrics.trainLoss);
  const metrics: Record<string, unknown> = { ...result.metrics, trainCount: trainSet.m };
  if (validationSet) {
    const v = evaluateTriplets(
      result.W,
      result.k,
      validationSet,
      { margin: p.margin, normalize: p.normalize },
      kernels,
    );
    Object.assign(metrics, {
      validationCount: v.count,
      validationLoss: v.loss,
      validationTripletAccuracy: v.tripletAccuracy,
      validationActiveFraction: v.activeFraction,
    });
  }
  post({ type: 'trained', W: result.W, k: result.k, d: result.d, metrics: metrics as never }, [
    result.W.buffer as ArrayBuffer,
  ]);
}

function trainOnSamples(task: TrainTask, p: MinedTrainingParams, s: SampleData, kernels: Kernels): void {
  const samples = { d: s.dimension, n: s.count, X: s.data, labels: s.labels };
  const params = minedTrainParams(p);
  const result = resumable<MinedCheckpoint, MinedTrainResult>(
    task,
    (c) => checkMinedCheckpoint(c, samples, params),
    (resumeFrom) => trainMined(samples, params, { ...hooks(task), ...checkpointHooks(task), resumeFrom }, kernels),
  );
  checkTrainedW(result.W, nonFiniteRun(result.metrics.warnings) ? NaN : result.metrics.trainLoss);
  const { validation, ...rest } = result.metrics;
  // Flatten the validation figures so clients read metrics.validationLoss like any job's.
  const metrics: Record<string, unknown> = { ...rest, ...(validation ?? {}) };
  post({ type: 'trained', W: result.W, k: result.k, d: result.d, metrics: metrics as never }, [
    result.W.buffer as ArrayBuffer,
  ]);
}

function runEvaluate(task: EvaluateTask, kernels: Kernels): void {
  const { W, k, normalize, margin, triplets, samples } = task;
  const result: EvaluateResult = { loss: null, tripletAccuracy: null, activeFraction: null, count: 0, margin };
  if (triplets.count > 0) {
    const set = toTripletSet(triplets);
    const d = set.d;
    const m = set.m;
    const inputs = [
      { X: set.anchors, n: m, what: 'an anchor' },
      { X: set.positives, n: m, what: 'a positive' },
      { X: set.negatives, n: m, what: 'a negative' },
    ];
    checkEmbeddable(W, k, d, inputs, kernels);
    const r = evaluateTriplets(W, k, set, { margin, normalize }, kernels);
    Object.assign(result, {
      loss: r.loss,
      tripletAccuracy: r.tripletAccuracy,
      activeFraction: r.activeFraction,
      count: r.count,
    });
  }
  if (samples.count > 1) {
    const n = samples.count;
    checkEmbeddable(W, k, samples.dimension, [{ X: samples.data, n, what: 'the samples’' }], kernels);
    const E = new Float32Array(n * k);
    embed(W, k, samples.dimension, samples.data, n, normalize, E, kernels);
    const m = retrievalMetrics(E, n, k, samples.labels, kernels);
    Object.assign(result, m, { sampleCount: n });
    // pairs streamed in chunks from the embeddings: memory bounded by the task's verification cost
    const distance = distanceByName(task.metric);
    result.verification = verificationMetrics(E, n, k, samples.labels, { ...task.verification, distance });
    result.identification = identificationMetrics(E, n, k, samples.labels, { ...task.identification, distance });
  }
  post({ type: 'evaluated', result });
}

/**
 * A gallery's items (rows 0..g−1, their stored embeddings) and the probes embedded by W (rows g…),
 * stacked: verification over probe × item pairs, identification with the items as the gallery.
 */
function runEvaluateGallery(task: EvaluateGalleryTask, kernels: Kernels): void {
  const { W, k, normalize, probes, enrolled } = task;
  const g = enrolled.count;
  const n = g + probes.count;
  checkEmbeddable(W, k, probes.dimension, [{ X: probes.data, n: probes.count, what: 'the probes’' }], kernels);
  checkEmbeddings(enrolled.embeddings, g, k, 'the gallery’s');
  const E = new Float32Array(n * k);
  E.set(enrolled.embeddings.subarray(0, g * k));
  embed(W, k, probes.dimension, probes.data, probes.count, normalize, E.subarray(g * k), kernels);
  const labels = new Int32Array(n);
  labels.set(enrolled.labels.subarray(0, g));
  labels.set(probes.labels.subarray(0, probes.count), g);
  const result: EvaluateResult = { loss: null, tripletAccuracy: null, activeFraction: null, count: 0, margin: 0 };
  const distance = distanceByName(task.metric);
  result.verification = crossVerificationMetrics(E, n, k, labels, g, { ...task.verification, distance });
  result.identification = identifySplit(E, k, labels, gallerySplitOf(labels, n, g), {
    ...task.identification,
    distance,
    noKnownReason: "no known probes (no probe's label is enrolled in the gallery)",
  });
  post({ type: 'evaluated', result });
}

/** indexTriplets: copies the indexed sample rows into triplet rows, and hands them back. */
function runGather(task: GatherTripletsTask): void {
  const { samples, indices } = task;
  const d = samples.dimension;
  const out = new Float32Array(indices.length * d);
  for (let r = 0; r < indices.length; r++) {
    const s = indices[r];
    if (s < 0 || s >= samples.count) {
      const message = `indexTriplets[${Math.floor(r / 3)}][${r % 3}] is ${s}, but there are ${samples.count} samples`;
      throw Object.assign(new Error(message), { code: 'INDEX_OUT_OF_RANGE' });
    }
    out.set(samples.data.subarray(s * d, (s + 1) * d), r * d);
  }
  post({ type: 'gathered', triplets: { count: indices.length / 3, dimension: d, data: out } }, [
    out.buffer as ArrayBuffer,
  ]);
}

interface Prepared {
  plan: ComputePlan;
  /** the whole backend, when the plan had the allowance */
  compute: Compute | null;
  /** else the pool's helper threads, started */
  helpers: StartedHelpers | null;
}

/** What the plan asks for, built while the worker waits; null when that failed (the task then builds its own). */
async function prepare(plan: ComputePlan): Promise<Prepared | null> {
  const { kernels, threads, wide } = plan.compute;
  try {
    if (plan.memoryBytes === undefined)
      return { plan, compute: null, helpers: kernels !== 'js' && threads > 1 ? startHelpers(threads) : null };
    const compute = await createCompute({ kernels, threads, wide, maxMemoryBytes: plan.memoryBytes });
    return { plan, compute, helpers: null };
  } catch {
    return null;
  }
}

/**
 * The task's backend: the prepared one when it was built for exactly the task's settings and
 * allowance; else a new one, on the prepared helper threads when the settings match.
 */
async function computeFor(
  task: Exclude<Task, { kind: 'gatherTriplets' }>,
  planned: Promise<Prepared | null> | null,
): Promise<Compute> {
  const { kernels, threads, wide } = task.compute;
  const maxMemoryBytes = task.kind === 'train' ? task.memoryBytes : undefined;
  const ready = await planned;
  const alike = ready !== null && isDeepStrictEqual(ready.plan.compute, task.compute);
  const report = (planned: 'backend' | 'threads' | 'none') => {
    if (task.kind === 'train') post({ type: 'computeReady', planned });
  };
  if (alike && ready.compute && ready.plan.memoryBytes === maxMemoryBytes) {
    report('backend');
    return ready.compute;
  }
  await ready?.compute?.close();
  const helpers = alike ? ready.helpers : null;
  if (!alike) await ready?.helpers?.stop();
  const compute = await createCompute({ kernels, threads, wide, maxMemoryBytes, helpers: helpers ?? undefined });
  report(helpers ? 'threads' : 'none');
  return compute;
}

/** The task a spare waits for; asked to stop instead, the thread ends here, as a finished task's does. */
function nextTask(): Promise<Task> {
  return new Promise((resolve) =>
    parentPort!.once('message', (m: TaskMessage) => ('task' in m ? resolve(m.task) : process.exit(0))),
  );
}

function run(task: Task, kernels: Kernels): void {
  if (task.kind === 'evaluate') return runEvaluate(task, kernels);
  if (task.kind === 'evaluateGallery') return runEvaluateGallery(task, kernels);
  if (task.kind === 'gatherTriplets') return runGather(task);
  const p = task.params;
  if (p.source === 'samples') {
    if (!task.samples) throw missing('samples');
    return trainOnSamples(task, p, task.samples, kernels);
  }
  const triplets = task.indexedTriplets ?? task.triplets;
  if (!triplets) throw missing('triplets');
  trainOnTriplets(task, p, triplets, kernels);
}

// A worker started ahead of its job (SpareWorker, WaitingWorker) gets its task by message; one
// with a compute plan builds that backend while it waits.
const start = workerData as WorkerStart;
const planned = start !== null && 'plan' in start ? prepare(start.plan) : null;
const task = start !== null && !('plan' in start) ? start : await nextTask();
// One compute backend for this task: WebAssembly SIMD on `threads` threads (a pool sharing one
// memory) unless the settings say js or the runtime lacks SIMD.
let compute: Compute | null = null;
try {
  // A gather copies rows and needs no kernels (nor their threads).
  if (task.kind === 'gatherTriplets') runGather(task);
  else {
    compute = await computeFor(task, planned);
    run(task, compute.kernels);
  }
} catch (e) {
  const err = memoryError(e) ?? (e as Error & { code?: string });
  post({ type: 'failed', code: typeof err.code === 'string' ? err.code : 'TRAINING_FAILED', message: err.message });
} finally {
  await compute?.close();
}
