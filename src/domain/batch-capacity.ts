// How large a P×K training batch a dataset can fill: one rule for POST /train (src/services/
// train-params.ts) and for the runner, which checks again on the data a job really reads.

export interface BatchRequest {
  batchSize: number;
  samplesPerLabel: number;
}

export interface SampleCounts {
  id: string;
  labelCount: number;
  sampleCount: number;
}

/**
 * labels × K: the sampler takes at most K samples of each label, so a larger batchSize could only
 * train as this one. (Labels with fewer than K samples and the validation split can lower what a
 * batch really holds; a job's metrics warn of that, src/math/mining/batch-shape.ts.)
 */
export function batchCeiling(K: number, ds: Pick<SampleCounts, 'labelCount'>): number {
  return ds.labelCount * K;
}

/** Why the dataset cannot fill the batch (naming the field, the bound and the counts), or null. */
export function batchExceedsData(p: BatchRequest, ds: SampleCounts): string | null {
  const K = p.samplesPerLabel;
  const ceiling = batchCeiling(K, ds);
  if (p.batchSize <= ceiling) return null;
  return (
    `batchSize ${p.batchSize} is more than dataset ${ds.id} can fill: a batch takes at most samplesPerLabel ` +
    `(${K}) samples of each label, and the dataset has ${ds.labelCount} labels and ${ds.sampleCount} samples, ` +
    `so at most labels × samplesPerLabel = ${ceiling} samples a batch; ` +
    `ask for at most that (a larger batch would train the same model as that one)`
  );
}
