import { Type, type Static } from '@sinclair/typebox';
import { ModelName } from '../domain/aliases.js';
import { Model } from '../domain/records.js';
import { MAX_SCALE_FREE } from '../domain/training.js';
import { DEFAULT_MAX_GENUINE_PAIRS, DEFAULT_MAX_IMPOSTOR_PAIRS } from '../math/verification/index.js';

export { Model };

export const Weights = Type.Object({
  rows: Type.Integer({ description: 'k' }),
  cols: Type.Integer({ description: 'd' }),
  normalize: Type.Boolean(),
  W: Type.Array(Type.Array(Type.Number()), { description: 'Row-major, k rows of d numbers' }),
});

export const ImportModelBody = Type.Object(
  {
    W: Type.Array(Type.Array(Type.Number(), { minItems: 1 }), { minItems: 1, description: 'k rows of d numbers' }),
    normalize: Type.Optional(Type.Boolean({ default: false })),
    name: Type.Optional(ModelName),
  },
  { additionalProperties: false },
);
export type ImportModelBody = Static<typeof ImportModelBody>;

export const RenameModelBody = Type.Object(
  { name: Type.Union([ModelName, Type.Null()], { description: 'The new name; null removes it' }) },
  { additionalProperties: false },
);
export type RenameModelBody = Static<typeof RenameModelBody>;

/** A model named by id or alias, where a route reads a model. */
export const ModelRefParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128, description: 'A model id, or an alias' }),
});

// Inclusive bounds here (OpenAPI 3.0 has no numeric exclusiveMinimum); 0 and 1 are refused by the
// service (labelled-metrics.ts), naming the field.
const Fars = (what: string) =>
  Type.Array(Type.Number({ minimum: 0, maximum: 1 }), {
    minItems: 1,
    maxItems: 12,
    description: `${what}, each in (0, 1)`,
  });
const Seed = (description: string) => Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, description });

/** Options of the verification pass over labelled samples (docs/decisions/0035). */
export const VerificationOptions = Type.Object(
  {
    fars: Type.Optional(Fars('FARs to report TAR at. Default 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6')),
    curve: Type.Optional(
      Type.Boolean({ default: false, description: 'Add up to 1,000 ROC points, log-spaced in FAR from 1/N to 1' }),
    ),
    maxImpostorPairs: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1e9,
        description: `Above this many impostor pairs, a seeded uniform sample of exactly this many. Default ${DEFAULT_MAX_IMPOSTOR_PAIRS}`,
      }),
    ),
    maxGenuinePairs: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1e8,
        description: `Above this many genuine pairs, a seeded uniform sample of exactly this many. Default ${DEFAULT_MAX_GENUINE_PAIRS}`,
      }),
    ),
    seed: Type.Optional(Seed('Seed of the pair samples. Default 0')),
  },
  { additionalProperties: false },
);
export type VerificationOptions = Static<typeof VerificationOptions>;

/** Options of the gallery/probe split of identification. */
export const IdentificationOptions = Type.Object(
  {
    unknownFraction: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 0.9,
        description:
          'Share of the labels (seeded) held out of the gallery: their samples are open-set probes. Default 0.2',
      }),
    ),
    ranks: Type.Optional(
      Type.Array(Type.Integer({ minimum: 1 }), {
        minItems: 1,
        maxItems: 20,
        description: 'CMC ranks. Default 1, 5, 10',
      }),
    ),
    fars: Type.Optional(Fars('False-positive identification rates of the open-set DIR. Default 1e-1, 1e-2')),
    seed: Type.Optional(Seed('Seed of the split. Default 0')),
  },
  { additionalProperties: false },
);
export type IdentificationOptions = Static<typeof IdentificationOptions>;

export const EvaluateBody = Type.Object(
  {
    datasetId: Type.String({
      description: 'The dataset evaluated on; with galleryId, its labelled samples are the probes',
    }),
    galleryId: Type.Optional(
      Type.String({
        description:
          "A gallery of this model to evaluate the dataset's samples against as probes: its items are the enrolled " +
          'set (no seeded split; items without a label are distractors). Verification over probe × item pairs, CMC ' +
          'for probes whose label is enrolled, open-set DIR for the others; no triplet or retrieval figures ' +
          '(docs/decisions/0038)',
      }),
    ),
    margin: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: MAX_SCALE_FREE,
        description: 'Default: the margin the model was trained with (its trainingParams), else the training default',
      }),
    ),
    verification: Type.Optional(VerificationOptions),
    identification: Type.Optional(IdentificationOptions),
  },
  { additionalProperties: false },
);
export type EvaluateBody = Static<typeof EvaluateBody>;

const NullableNumber = (description: string) => Type.Union([Type.Number(), Type.Null()], { description });

const NullableString = (description: string) => Type.Union([Type.String(), Type.Null()], { description });

const TarAtFar = Type.Object({
  far: Type.Number(),
  tar: NullableNumber('Share of genuine pairs accepted; null when the impostor count cannot support this FAR'),
  threshold: NullableNumber(
    'Largest distance accepted, in `distance` (accept a pair when distance ≤ threshold); null when none can be',
  ),
  reason: NullableString('Why tar is null, e.g. "needs at least 1000000 impostor pairs, has 1453"'),
});

export const VerificationReply = Type.Object(
  {
    distance: Type.Union([Type.Literal('euclidean'), Type.Literal('squared_euclidean')], {
      description:
        "The distance the thresholds are in: the model's default search metric (its training distance, " +
        'squared_euclidean for a model trained with distance squared, else euclidean), so a threshold passes ' +
        "as a search's maxDistance as it is",
    }),
    genuineCount: Type.Integer({ description: 'Genuine pairs (same label) used: all, or the sample' }),
    genuineTotal: Type.Integer({ description: 'Genuine pairs in the data' }),
    genuineSampled: Type.Boolean(),
    impostorCount: Type.Integer({ description: 'Impostor pairs (labels differ) used: all, or the sample' }),
    impostorTotal: Type.Integer({ description: 'Impostor pairs in the data' }),
    impostorSampled: Type.Boolean({
      description: 'Above maxImpostorPairs: a uniform sample without replacement (Algorithm S) seeded by seed',
    }),
    maxGenuinePairs: Type.Integer(),
    maxImpostorPairs: Type.Integer(),
    seed: Type.Integer(),
    tarAtFar: Type.Array(TarAtFar),
    eer: NullableNumber('Equal error rate (FAR = FRR, interpolated on the ROC)'),
    eerThreshold: NullableNumber('Distance at the equal error rate'),
    auc: NullableNumber('ROC AUC (ties count one half)'),
    reason: NullableString('Why eer and auc are null (no genuine or no impostor pairs)'),
    curve: Type.Optional(
      Type.Array(Type.Object({ far: Type.Number(), tar: Type.Number() }), {
        description: 'With curve: true, up to 1,000 ROC points log-spaced in FAR',
      }),
    ),
  },
  {
    description:
      'Verification over genuine and impostor pairs of the labelled samples (docs/decisions/0035); with galleryId, ' +
      'over every probe × gallery item pair (docs/decisions/0038)',
  },
);

const Label = Type.Union([Type.String(), Type.Integer()]);

export const IdentificationReply = Type.Object(
  {
    seed: Type.Optional(Type.Integer({ description: 'The seeded split only (absent with galleryId)' })),
    unknownFraction: Type.Optional(Type.Number({ description: 'The seeded split only (absent with galleryId)' })),
    galleryCount: Type.Integer({
      description: "One sample of each known label (seeded choice); with galleryId, the gallery's items",
    }),
    knownProbeCount: Type.Integer({
      description: 'The other samples of known labels; with galleryId, probes whose label is enrolled',
    }),
    unknownProbeCount: Type.Integer({
      description: 'Samples of the labels held out of the gallery; with galleryId, probes whose label is not enrolled',
    }),
    unknownLabels: Type.Array(Label, {
      description: 'Labels held out of the gallery (open set); with galleryId, probe labels the gallery lacks',
    }),
    cmc: Type.Array(
      Type.Object({
        rank: Type.Integer(),
        rate: NullableNumber('Known probes whose gallery sample ranks within `rank`'),
      }),
    ),
    openSet: Type.Array(
      Type.Object({
        far: Type.Number({ description: 'False-positive identification rate over the unknown probes' }),
        dir: NullableNumber('Detection and identification rate of the known probes'),
        threshold: NullableNumber("Largest nearest-gallery distance accepted, in the model's default search metric"),
        reason: NullableString('Why dir is null'),
      }),
    ),
    reason: NullableString('Why cmc is null (no known probes)'),
  },
  {
    description:
      'Closed- and open-set identification on a seeded gallery/probe split of the samples, or (galleryId) of ' +
      "the dataset's samples against the gallery's items",
  },
);

export const EvaluateReply = Type.Object({
  model: Type.String({ description: 'The id of the model evaluated (an alias in the path resolved to it)' }),
  loss: NullableNumber("Mean hinge loss over the dataset's triplets (no weight decay); null without triplets"),
  tripletAccuracy: NullableNumber('Share of triplets with d(a,p) < d(a,n) (squared distances)'),
  activeFraction: NullableNumber('Share of triplets inside the margin'),
  count: Type.Integer({ description: 'Triplets evaluated' }),
  margin: Type.Number(),
  precisionAt1: Type.Optional(
    NullableNumber(
      'Labelled samples: leave-one-out precision@1 (Musgrave et al. 2020); null when queryCount is 0 ' +
        '(no label appears twice: nothing to measure, docs/decisions/0071)',
    ),
  ),
  rPrecision: Type.Optional(NullableNumber('Labelled samples: R-precision; null when queryCount is 0')),
  mapAtR: Type.Optional(NullableNumber('Labelled samples: MAP@R; null when queryCount is 0')),
  queryCount: Type.Optional(
    Type.Integer({
      description: 'Labelled samples with another sample of their label: the queries the retrieval figures average',
    }),
  ),
  sampleCount: Type.Optional(Type.Integer({ description: 'Labelled samples scored' })),
  verification: Type.Optional(VerificationReply),
  identification: Type.Optional(IdentificationReply),
  gallery: Type.Optional(
    Type.Object(
      {
        id: Type.String(),
        version: Type.Integer({ description: 'The gallery version whose embeddings were read' }),
        itemCount: Type.Integer({ description: 'Enrolled items' }),
        labelCount: Type.Integer({ description: 'Distinct labels among them' }),
        unlabelledCount: Type.Integer({ description: 'Items without a label: distractors, impostors to every probe' }),
        datasetId: Type.String(),
        probeCount: Type.Integer({ description: "The dataset's samples, each a probe" }),
      },
      { description: 'With galleryId: what was evaluated (loss, tripletAccuracy, activeFraction are null, count 0)' },
    ),
  ),
});
export type EvaluateReply = Static<typeof EvaluateReply>;
