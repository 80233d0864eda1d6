// Online triplet mining from labelled samples: P×K sampling, miners, batch losses, trainMined.
export * from './types.js';
export { EUCLIDEAN_EPSILON, TripletBuffer, batchDistances, countValidTriplets, mineSemihard, mineBatchHard, mineAll } from './miners.js';
export { createBatchObjective, softplus, sigmoid, minersOf, type BatchObjective, type BatchLossOptions, type BatchLossValue } from './batch-loss.js';
export { createPKSampler, groupByLabel, type PKSampler, type LabelGroups } from './sampler.js';
export { splitSamples, subsampleRows, sampleTriplets, LABEL_SPLIT_MIN_LABELS, type SampleSplit } from './split.js';
export { trainMined, DEFAULT_MINED_PARAMS } from './train-mined.js';
