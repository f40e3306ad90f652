/**
 * SVG charts, rendered in Node: a vega-lite spec compiled to vega, then `View.toSVG()` (no browser,
 * no canvas: vega estimates text widths).
 *
 * @since 0.1.0
 */
import * as Vega from "vega"
import * as VegaLite from "vega-lite"

/**
 * @since 0.1.0
 * @category rendering
 */
export const render = async (spec: VegaLite.TopLevelSpec): Promise<string> => {
  const compiled = VegaLite.compile(spec).spec
  const view = new Vega.View(Vega.parse(compiled), { renderer: "none" })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/**
 * P2: latency over time, one panel per contender; the spikes at expiry show.
 *
 * @since 0.1.0
 * @category charts
 */
export const timeline = (
  rows: ReadonlyArray<{ readonly contender: string; readonly t: number; readonly p99: number; readonly max: number }>,
  title: string
): VegaLite.TopLevelSpec => ({
  $schema: "https://vega.github.io/schema/vega-lite/v6.json",
  title,
  data: {
    values: rows.flatMap((r) => [
      { contender: r.contender, t: r.t, latency: Math.max(r.p99, 0.05), series: "p99 per 100 ms" },
      { contender: r.contender, t: r.t, latency: Math.max(r.max, 0.05), series: "max per 100 ms" }
    ])
  },
  facet: { row: { field: "contender", type: "nominal", title: null, header: { labelAngle: 0, labelAlign: "left" } } },
  spec: {
    width: 640,
    height: 70,
    mark: { type: "line", strokeWidth: 1, interpolate: "step-after" },
    encoding: {
      x: { field: "t", type: "quantitative", title: "time (s)" },
      y: { field: "latency", type: "quantitative", scale: { type: "log" }, title: "ms" },
      color: { field: "series", type: "nominal", title: null }
    }
  },
  resolve: { scale: { y: "shared" } }
})

/**
 * P1 and P5: a count per contender and case, on a log scale (the goal is 1 or 0).
 *
 * @since 0.1.0
 * @category charts
 */
export const counts = (
  rows: ReadonlyArray<{ readonly contender: string; readonly case: string; readonly count: number }>,
  title: string,
  axis: string
): VegaLite.TopLevelSpec => ({
  $schema: "https://vega.github.io/schema/vega-lite/v6.json",
  title,
  data: { values: rows.map((r) => ({ ...r, shown: Math.max(r.count, 0.5) })) },
  facet: { row: { field: "case", type: "nominal", title: null, header: { labelAngle: 0, labelAlign: "left" } } },
  spec: {
    width: 420,
    height: { step: 18 },
    layer: [
      {
        mark: "bar",
        encoding: {
          y: { field: "contender", type: "nominal", title: null, sort: null },
          x: { field: "shown", type: "quantitative", scale: { type: "log", domainMin: 0.5 }, title: axis },
          color: { field: "contender", type: "nominal", legend: null }
        }
      },
      {
        mark: { type: "text", align: "left", dx: 3 },
        encoding: {
          y: { field: "contender", type: "nominal", sort: null },
          x: { field: "shown", type: "quantitative" },
          text: { field: "count", type: "quantitative" }
        }
      }
    ]
  }
})
