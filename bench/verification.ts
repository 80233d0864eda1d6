// Time and memory of the verification and identification metrics on face-like synthetic data.
//   npx tsx bench/verification.ts [n] [k] [perLabel] [maxImpostorPairs]
// n float32 samples of dimension k, perLabel samples of each identity (Gaussian clusters). Prints
// the pair counts, the impostor passes, wall and CPU seconds (CPU holds on a busy machine), and
// the growth of the peak RSS during the call (process.resourceUsage().maxRSS after minus before,
// data already allocated) beside the memory formula of docs/decisions/0027-verification-metrics.md. Speed lives here, never in tests.
import { createRng } from '../src/math/rng.js';
import { identificationMetrics, verificationMetrics } from '../src/math/verification/index.js';

const [n = 4000, k = 64, perLabel = 10, maxImpostorPairs = 10_000_000] = process.argv.slice(2).map(Number);
const rng = createRng(1);
const labels = Int32Array.from({ length: n }, (_, i) => Math.floor(i / perLabel));
const L = labels[n - 1] + 1;
const centres = Float64Array.from({ length: L * k }, () => rng.normal());
const E = new Float32Array(n * k);
for (let i = 0; i < n; i++) for (let r = 0; r < k; r++) E[i * k + r] = centres[labels[i] * k + r] + 1.5 * rng.normal();

const mb = (kb: number) => (kb / 1024).toFixed(1);
const rss0 = process.resourceUsage().maxRSS;
let t0 = performance.now();
const cpu0 = process.cpuUsage();
const v = verificationMetrics(E, n, k, labels, { maxImpostorPairs, curvePoints: 1000 });
const tv = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const rss1 = process.resourceUsage().maxRSS;
t0 = performance.now();
const id = identificationMetrics(E, n, k, labels);
const ti = performance.now() - t0;
const K = v.genuineCount; // distinct genuine values ≤ G; continuous data: equal
// decision 0027: 8·G + 48·K while the staircase is built, a chunk, ≤ 7 thresholds kept (6 FARs, EER)
const formula = (8 * v.genuineCount + 48 * K + 8 * 65536 + 7 * 8 * 65536) / 2 ** 20;
console.log(
  JSON.stringify({
    n,
    k,
    perLabel,
    genuine: v.genuineCount,
    impostors: v.impostorCount,
    impostorTotal: v.impostorTotal,
    impostorPasses: v.impostorPasses,
    verificationSeconds: +(tv / 1000).toFixed(2),
    verificationCpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2),
    peakRssGrowthMB: +mb(rss1 - rss0),
    formulaBoundMB: +formula.toFixed(1),
    identificationSeconds: +(ti / 1000).toFixed(2),
    tarAtFar: v.tarAtFar.map((p) => [p.far, p.tar]),
    eer: v.eer,
    auc: v.auc,
    cmc: id.cmc.map((c) => [c.rank, c.rate]),
  }),
);
