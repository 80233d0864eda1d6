// Worker-thread entry: loads data from the store, runs the pure math, reports by message.
// Training runs here so the main thread keeps serving while a model learns.
import { parentPort, workerData } from 'node:worker_threads';
import { createCompute, kernelChoiceFromEnv, threadsFromEnv } from '../compute/index.js';
import { DEFAULT_MINED_PARAMS, embed, evaluateTriplets, retrievalMetrics, seededRandom, train, trainMined, type Kernels } from '../math/index.js';
import { SqliteStore } from '../store/sqlite.js';
import { splitIndices, toLabelledSamples, toTripletSet } from './dataset-loader.js';
import type { EvaluateResult, EvaluateTask, MinedJobParams, Task, TrainTask, TripletJobParams, WorkerMessage } from './messages.js';

const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);

function hooks(task: TrainTask) {
  const control = new Int32Array(task.control);
  return {
    onProgress: (progress: object) => post({ type: 'progress', progress: { ...progress } as never }),
    shouldStop: () => Atomics.load(control, 0) !== 0,
    progressIntervalMs: 250,
  };
}

function trainOnTriplets(task: TrainTask, p: TripletJobParams, kernels: Kernels): void {
  const store = new SqliteStore(task.dbPath, { readonly: true });
  const stored = store.readTriplets(task.datasetId);
  store.close();
  const split = p.validationFraction > 0 ? splitIndices(stored.count, p.validationFraction, seededRandom(p.seed)) : null;
  const trainSet = toTripletSet(stored, split?.train);
  const validationSet = split && split.validation.length > 0 ? toTripletSet(stored, split.validation) : null;
  const { source: _s, validationFraction: _v, mining: _m, ...params } = p;
  const result = train(trainSet, params, hooks(task), kernels);
  const metrics: Record<string, unknown> = { ...result.metrics, trainCount: trainSet.m };
  if (validationSet) {
    const v = evaluateTriplets(result.W, result.k, validationSet, { margin: p.margin, normalize: p.normalize }, kernels);
    Object.assign(metrics, {
      validationCount: v.count,
      validationLoss: v.loss,
      validationTripletAccuracy: v.tripletAccuracy,
      validationActiveFraction: v.activeFraction,
    });
  }
  post({ type: 'trained', W: result.W, k: result.k, d: result.d, metrics: metrics as never }, [result.W.buffer as ArrayBuffer]);
}

function trainOnSamples(task: TrainTask, p: MinedJobParams, kernels: Kernels): void {
  const store = new SqliteStore(task.dbPath, { readonly: true });
  const samples = toLabelledSamples(store.readSamples(task.datasetId));
  store.close();
  const { source: _s, optimizer: _o, ...params } = p;
  // Mining options the API does not expose keep the math core's defaults.
  const result = trainMined(samples, { ...DEFAULT_MINED_PARAMS, ...params }, hooks(task), kernels);
  const { validation, ...rest } = result.metrics;
  // Flatten the validation figures so clients read metrics.validationLoss like any job's.
  const metrics: Record<string, unknown> = { ...rest, ...(validation ?? {}) };
  post({ type: 'trained', W: result.W, k: result.k, d: result.d, metrics: metrics as never }, [result.W.buffer as ArrayBuffer]);
}

function runEvaluate(task: EvaluateTask, kernels: Kernels): void {
  const store = new SqliteStore(task.dbPath, { readonly: true });
  const model = store.getModel(task.modelId);
  const W = store.getModelWeights(task.modelId);
  const stored = store.readTriplets(task.datasetId);
  const samples = store.readSamples(task.datasetId);
  store.close();
  if (!model || !W) throw Object.assign(new Error(`model ${task.modelId} does not exist`), { code: 'MODEL_NOT_FOUND' });
  const k = model.outputDimension;
  const result: EvaluateResult = { loss: null, tripletAccuracy: null, activeFraction: null, count: 0, margin: task.margin };
  if (stored.count > 0) {
    const r = evaluateTriplets(W, k, toTripletSet(stored), { margin: task.margin, normalize: model.normalize }, kernels);
    Object.assign(result, { loss: r.loss, tripletAccuracy: r.tripletAccuracy, activeFraction: r.activeFraction, count: r.count });
  }
  if (samples.count > 1) {
    const s = toLabelledSamples(samples);
    const E = new Float32Array(s.n * k);
    embed(W, k, s.d, s.X, s.n, model.normalize, E, kernels);
    const m = retrievalMetrics(E, s.n, k, s.labels, kernels);
    Object.assign(result, { precisionAt1: m.precisionAt1, rPrecision: m.rPrecision, mapAtR: m.mapAtR, sampleCount: s.n });
  }
  post({ type: 'evaluated', result });
}

const task = workerData as Task;
// One compute backend for this job: WebAssembly SIMD on TRIPLET_THREADS threads (a pool sharing
// one memory) unless TRIPLET_KERNELS=js or the runtime lacks SIMD.
let compute: Awaited<ReturnType<typeof createCompute>> | null = null;
try {
  compute = await createCompute({ kernels: kernelChoiceFromEnv(), threads: threadsFromEnv() });
  if (task.kind === 'evaluate') runEvaluate(task, compute.kernels);
  else if (task.params.source === 'samples') trainOnSamples(task, task.params, compute.kernels);
  else trainOnTriplets(task, task.params, compute.kernels);
} catch (e) {
  const err = e as Error & { code?: string };
  post({ type: 'failed', code: typeof err.code === 'string' ? err.code : 'TRAINING_FAILED', message: err.message });
} finally {
  await compute?.close();
}
