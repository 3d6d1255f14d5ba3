/**
 * Pure statistics of the benchmark: percentiles of latencies, medians over repeated runs and
 * ratios to the baseline. No I/O here, so test/unit/bench-stats.test.ts covers it.
 */

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of ascending `sorted` values (p in 0..100); NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export function summarizeLatencies(values: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
  };
}

/** Median of the values (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** value ÷ baseline, or null when there is no usable baseline. */
export function ratio(value: number, baseline: number): number | null {
  if (!(baseline > 0) || !Number.isFinite(value)) return null;
  return value / baseline;
}

/** Adds up counters keyed by name (error counts of several runs). */
export function sumCounts(counts: ReadonlyArray<Record<string, number>>): Record<string, number> {
  const total: Record<string, number> = {};
  for (const one of counts) for (const [key, n] of Object.entries(one)) total[key] = (total[key] ?? 0) + n;
  return total;
}

/** One measured run of a scenario. */
export interface RunMetrics {
  requests: number;
  durationS: number;
  rps: number;
  latency: LatencySummary;
  /** Non-2xx answers by "<status> <type>", transport failures by "socket <reason>". */
  errors: Record<string, number>;
  /** Answers by HTTP status (wrk and autocannon runs). */
  statuses?: Record<string, number>;
  /** CPU seconds of each process during the run (bench/cpu.ts), the generator as "generator". */
  cpuS?: Record<string, number>;
  /** Extra figures of the scenario (winners, journeys/s, delivery latency, ...). */
  extra: Record<string, number>;
}

/** The median of each figure over the runs (each figure separately), errors summed. */
export interface MedianMetrics {
  runs: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  requests: number;
  errors: Record<string, number>;
  extra: Record<string, number>;
}

export function medianOfRuns(runs: readonly RunMetrics[]): MedianMetrics {
  const extraKeys = [...new Set(runs.flatMap((r) => Object.keys(r.extra)))];
  return {
    runs: runs.length,
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.latency.p50)),
    p95: median(runs.map((r) => r.latency.p95)),
    p99: median(runs.map((r) => r.latency.p99)),
    requests: median(runs.map((r) => r.requests)),
    errors: sumCounts(runs.map((r) => r.errors)),
    extra: Object.fromEntries(extraKeys.map((k) => [k, median(runs.flatMap((r) => (k in r.extra ? [r.extra[k]] : [])))])),
  };
}
