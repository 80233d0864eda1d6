// Worker-thread entry: loads data from the store, runs the pure math, reports by message.
// Training runs here so the main thread keeps serving while a model learns.
import { parentPort, workerData } from 'node:worker_threads';
import { evaluateTriplets, seededRandom, train } from '../math/index.js';
import { SqliteStore } from '../store/sqlite.js';
import { splitIndices, toTripletSet } from './dataset-loader.js';
import type { EvaluateTask, Task, TrainTask, WorkerMessage } from './messages.js';

const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);

function runTrain(task: TrainTask): void {
  const store = new SqliteStore(task.dbPath, { readonly: true });
  const stored = store.readTriplets(task.datasetId);
  store.close();
  const p = task.params;
  const split = p.validationFraction > 0 ? splitIndices(stored.count, p.validationFraction, seededRandom(p.seed)) : null;
  const trainSet = toTripletSet(stored, split?.train);
  const validationSet = split && split.validation.length > 0 ? toTripletSet(stored, split.validation) : null;
  const control = new Int32Array(task.control);
  const result = train(
    trainSet,
    {
      outputDimension: p.outputDimension,
      margin: p.margin,
      optimizer: p.optimizer,
      maxIterations: p.maxIterations,
      normalize: p.normalize,
      weightDecay: p.weightDecay,
      init: p.init,
      seed: p.seed,
      gradientTolerance: p.gradientTolerance,
      historySize: p.historySize,
    },
    {
      onProgress: (progress) => post({ type: 'progress', progress }),
      shouldStop: () => Atomics.load(control, 0) !== 0,
      progressIntervalMs: 250,
    },
  );
  const metrics: Record<string, unknown> = { ...result.metrics, trainCount: trainSet.m };
  if (validationSet) {
    const v = evaluateTriplets(result.W, result.k, validationSet, { margin: p.margin, normalize: p.normalize });
    Object.assign(metrics, {
      validationCount: v.count,
      validationLoss: v.loss,
      validationTripletAccuracy: v.tripletAccuracy,
      validationActiveFraction: v.activeFraction,
    });
  }
  post({ type: 'trained', W: result.W, k: result.k, d: result.d, metrics: metrics as never }, [result.W.buffer as ArrayBuffer]);
}

function runEvaluate(task: EvaluateTask): void {
  const store = new SqliteStore(task.dbPath, { readonly: true });
  const model = store.getModel(task.modelId);
  const W = store.getModelWeights(task.modelId);
  const stored = store.readTriplets(task.datasetId);
  store.close();
  if (!model || !W) throw Object.assign(new Error(`model ${task.modelId} does not exist`), { code: 'MODEL_NOT_FOUND' });
  const set = toTripletSet(stored);
  const r = evaluateTriplets(W, model.outputDimension, set, { margin: task.margin, normalize: model.normalize });
  post({ type: 'evaluated', result: { ...r, margin: task.margin } });
}

const task = workerData as Task;
try {
  if (task.kind === 'train') runTrain(task);
  else runEvaluate(task);
} catch (e) {
  const err = e as Error & { code?: string };
  post({ type: 'failed', code: typeof err.code === 'string' ? err.code : 'TRAINING_FAILED', message: err.message });
}
