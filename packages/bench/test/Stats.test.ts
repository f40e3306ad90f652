import { assert, describe, it } from "@effect/vitest"
import { formatSummary, percentile, summarize } from "../src/Stats.js"

describe("Stats", () => {
  it("percentile is nearest-rank", () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i)
    assert.strictEqual(percentile(values, 50), 50)
    assert.strictEqual(percentile(values, 99), 99)
    assert.strictEqual(percentile(values, 100), 100)
    assert.strictEqual(percentile([], 99), 0)
  })

  it("summarize takes the median of the runs, with min and max", () => {
    const s = summarize([5, 1, 3, NaN, 4, 2])
    assert.deepStrictEqual([s.median, s.min, s.max], [3, 1, 5])
    assert.strictEqual(formatSummary(s), "3 (1–5)")
    assert.strictEqual(formatSummary(summarize([1, 1, 1])), "1")
    assert.strictEqual(formatSummary(summarize([])), "–")
  })
})
