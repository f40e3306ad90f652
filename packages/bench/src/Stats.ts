/**
 * Small statistics for the benchmark: percentiles, and the median of runs with its min and max.
 *
 * @since 0.1.0
 */

/**
 * The `p`-th percentile (nearest rank) of `values`; 0 when there are none.
 *
 * @since 0.1.0
 * @category statistics
 */
export const percentile = (values: ArrayLike<number>, p: number): number => {
  if (values.length === 0) return 0
  const sorted = Float64Array.from(values).sort()
  const rank = Math.ceil((p / 100) * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]
}

/**
 * A figure over several runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly runs: ReadonlyArray<number>
}

/**
 * The median (the mean of the two middle values for an even count), min and max of the runs.
 *
 * @since 0.1.0
 * @category statistics
 */
export const summarize = (runs: ReadonlyArray<number>): Summary => {
  const finite = runs.filter((n) => Number.isFinite(n))
  if (finite.length === 0) return { median: NaN, min: NaN, max: NaN, runs }
  const sorted = [...finite].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
  return { median, min: sorted[0], max: sorted[sorted.length - 1], runs }
}

/**
 * A number for a table: integers as they are, others with 3 significant digits (2 decimals at least).
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatNumber = (n: number): string => {
  if (!Number.isFinite(n)) return "–"
  if (Number.isInteger(n) && Math.abs(n) < 1e6) return String(n)
  const abs = Math.abs(n)
  if (abs >= 1e6) return `${(n / 1e6).toPrecision(3)}M`
  if (abs >= 1e4) return `${(n / 1e3).toPrecision(3)}k`
  if (abs >= 100) return n.toFixed(0)
  if (abs >= 1) return n.toFixed(2)
  return n.toPrecision(2)
}

/**
 * `median (min–max)`, or the median alone when all runs agree.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatSummary = (summary: Summary, unit = ""): string => {
  if (!Number.isFinite(summary.median)) return "–"
  const median = `${formatNumber(summary.median)}${unit}`
  if (summary.min === summary.max) return median
  return `${median} (${formatNumber(summary.min)}–${formatNumber(summary.max)})`
}
