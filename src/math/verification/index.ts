// Verification and identification metrics (face-model style), pure: see docs/decisions/0027.
export {
  crossVerificationMetrics,
  DEFAULT_FARS,
  DEFAULT_MAX_GENUINE_PAIRS,
  DEFAULT_MAX_IMPOSTOR_PAIRS,
  impostorsNeeded,
  verificationMetrics,
} from './verify.js';
export type { TarAtFar, VerificationMetrics, VerificationOptions } from './verify.js';
export { identificationMetrics, identifySplit } from './identify.js';
export type { IdentificationMetrics, IdentificationOptions, OpenSetPoint } from './identify.js';
export { gallerySplit, gallerySplitOf, type GallerySplit } from './split.js';
export { pairCounts, PAIR_CHUNK } from './pairs.js';
export { DEFAULT_SELECT, selectRanks, type RankValue, type SelectOptions } from './select.js';
export { crossPairCounts, NO_LABEL } from './cross-pairs.js';
