// Online triplet mining from labelled samples: P×K sampling, miners, batch losses, trainMined.
export * from './types.js';
export { EUCLIDEAN_EPSILON } from '../distance.js';
export { batchDistances } from '../distances.js';
export {
  TripletBuffer,
  countValidTriplets,
  mineSemihard,
  mineBatchHard,
  mineAll,
  minersOf,
  createMiners,
  semihardMiner,
  batchHardMiner,
  allTripletsMiner,
  type Miner,
} from './miners.js';
export {
  softplus,
  sigmoid,
  hingeLoss,
  softplusLoss,
  tripletLossByName,
  averageNonZero,
  averageAll,
  reducerByName,
  type TripletLoss,
  type Reducer,
} from './triplet-loss.js';
export { createBatchObjective, type BatchObjective, type BatchLossOptions, type BatchLossValue } from './batch-loss.js';
export { createPKSampler, groupByLabel, type PKSampler, type LabelGroups, type SamplerState } from './sampler.js';
export type { MinedCheckpoint, LossWindow } from './checkpoint.js';
export { splitSamples, subsampleRows, sampleTriplets, LABEL_SPLIT_MIN_LABELS, type SampleSplit } from './split.js';
export { DEFAULT_MINED_PARAMS } from '../defaults.js';
export { trainMined, splitFor } from './train-mined.js';
