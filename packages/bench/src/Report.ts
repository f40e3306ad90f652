/**
 * Turns the raw runs into the markdown report, the goals and the charts.
 *
 * @since 0.1.0
 */
import type { Calibration } from "./Calibration.js"
import * as Charts from "./Charts.js"
import type { Contender } from "./Contenders.js"
import { baselineOf, oauthCcDPoP } from "./Contenders.js"
import type { P7Run } from "./Fleet.js"
import type { LoadRun, P1Run, P3Run, P6Run, Plan } from "./Scenarios.js"
import { p5RateLimit, shortTtlSeconds, tokenDelayMillis } from "./Scenarios.js"
import { formatNumber, formatSummary, summarize, type Summary } from "./Stats.js"

/**
 * Everything one `pnpm bench` measured.
 *
 * @since 0.1.0
 * @category models
 */
export interface Results {
  readonly meta: {
    readonly date: string
    readonly node: string
    readonly cores: number
    readonly cpu: string
    readonly loadAverage: ReadonlyArray<number>
    readonly quick: boolean
    readonly runs: number
    readonly plan: Plan
    readonly seconds?: number
  }
  readonly calibration: Calibration
  readonly p1: Array<Array<P1Run>>
  readonly p2: Array<Array<LoadRun>>
  readonly p3: Array<P3Run>
  readonly p4: Array<Record<string, { readonly rps: number; readonly failed: number }>>
  readonly p5: Array<Array<LoadRun>>
  readonly p6: Array<P6Run>
  readonly p7: { readonly skipped?: string; readonly runs: Array<ReadonlyArray<P7Run>> }
  readonly crashes: Array<string>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Goal {
  readonly scenario: string
  readonly goal: string
  readonly figure: string
  readonly met: boolean
  /** A correctness invariant: when broken, `pnpm bench` exits non-zero. */
  readonly invariant: boolean
}

const over = <R, A>(runs: ReadonlyArray<ReadonlyArray<R>>, pick: (run: ReadonlyArray<R>) => A | undefined) =>
  runs.map(pick).filter((a): a is A => a !== undefined)

const loadFigure = (
  runs: ReadonlyArray<ReadonlyArray<LoadRun>>,
  name: string,
  f: (run: LoadRun, all: ReadonlyArray<LoadRun>) => number
): Summary =>
  summarize(over(runs, (all) => {
    const run = all.find((r) => r.contender === name)
    return run === undefined ? undefined : f(run, all)
  }))

const ratioToBaseline =
  (contender: Contender, field: "p50" | "p99" | "max") => (run: LoadRun, all: ReadonlyArray<LoadRun>) => {
    const base = all.find((r) => r.contender === baselineOf(contender).name)
    return base === undefined ? NaN : run[field] / base[field]
  }

const p3Limit = "limit: Ref.get + Clock"

/**
 * @since 0.1.0
 * @category report
 */
export const goals = (results: Results, contenders: ReadonlyArray<Contender>): Array<Goal> => {
  const list: Array<Goal> = []
  const oauthCc = contenders.find((c) => c.name === "oauth-cc")!
  for (const size of results.meta.plan.p1Sizes) {
    const s = summarize(
      results.p1.flatMap((run) =>
        run.filter((r) => r.contender === oauthCc.name && r.size === size).map((r) => r.tokenRequests)
      )
    )
    list.push({
      scenario: `P1 ${size.toLocaleString("en")} cold calls`,
      goal: "1 token request",
      figure: formatSummary(s),
      met: s.max === 1,
      invariant: true
    })
  }
  const p99 = loadFigure(results.p2, oauthCc.name, ratioToBaseline(oauthCc, "p99"))
  list.push({
    scenario: "P2 expiry under load",
    goal: "p99 ≤ 1.10× static header",
    figure: `${formatSummary(p99)}×`,
    met: p99.median <= 1.1,
    invariant: false
  })
  const rejectedP2 = loadFigure(results.p2, oauthCc.name, (r) => r.resource401)
  list.push({
    scenario: "P2 expiry under load",
    goal: "no request sent with an expired token (401)",
    figure: formatSummary(rejectedP2),
    met: rejectedP2.max === 0,
    invariant: true
  })
  const errorsP2 = loadFigure(results.p2, oauthCc.name, (r) => r.failed - r.resource401)
  list.push({
    scenario: "P2 expiry under load",
    goal: "no transport error",
    figure: formatSummary(errorsP2),
    met: errorsP2.max === 0,
    invariant: false
  })
  const p3 = summarize(results.p3.map((r) => r.effect["oauth-cc provider.get"] / r.effect[p3Limit]))
  list.push({
    scenario: "P3 warm cache",
    goal: "get ÷ Ref.get+Clock ≥ 0.5",
    figure: formatSummary(p3),
    met: p3.median >= 0.5,
    invariant: false
  })
  const base = baselineOf(oauthCc).name
  const p4 = summarize(results.p4.map((r) => r[oauthCc.name].rps / r[base].rps))
  list.push({
    scenario: "P4 authorized throughput",
    goal: "≥ 0.97× static header",
    figure: formatSummary(p4),
    met: p4.median >= 0.97,
    invariant: false
  })
  const dpop = results.p4.filter((r) => r[oauthCcDPoP.name] !== undefined)
  if (dpop.length > 0) {
    const ratio = summarize(dpop.map((r) => r[oauthCcDPoP.name]!.rps / r[oauthCc.name].rps))
    list.push({
      scenario: "P4 with DPoP",
      goal: "DPoP ÷ Bearer reported (an ES256 proof per request), no failed request",
      figure: formatSummary(ratio),
      met: Math.max(...dpop.map((r) => r[oauthCcDPoP.name]!.failed)) === 0,
      invariant: false
    })
  }
  const failedP4 = summarize(results.p4.map((r) => r[oauthCc.name].failed))
  list.push({
    scenario: "P4 authorized throughput",
    goal: "no failed request",
    figure: formatSummary(failedP4),
    met: failedP4.max === 0,
    invariant: true
  })
  const windows = results.meta.plan.p5.seconds / p5RateLimit.retryAfterSeconds
  const p5 = loadFigure(results.p5, oauthCc.name, (r) => r.token429 / windows)
  list.push({
    scenario: "P5 rate-limited server",
    goal: "≤ 1 429 per Retry-After window",
    figure: formatSummary(p5),
    met: p5.max <= 1,
    invariant: false
  })
  if (results.p6.length > 0) {
    const bytes = summarize(results.p6.map((r) => r.bytesPerKey))
    list.push({
      scenario: `P6 ${results.p6[0].keys.toLocaleString("en")} keys`,
      goal: "≤ 2 KB heap per cached key",
      figure: `${formatSummary(bytes)} B`,
      met: bytes.median <= 2048,
      invariant: false
    })
    const held = results.p6.every((r) =>
      r.recentRefetched === 0 && r.oldestRefetched === Math.min(100, Math.max(0, r.boundKeys - r.bound))
    )
    list.push({
      scenario: "P6 bound",
      goal: "maxCachedKeys (1,000) holds: recent kept, oldest evicted",
      figure: results.p6.map((r) => `${r.recentRefetched} / ${r.oldestRefetched} refetched`).join("; "),
      met: held,
      invariant: true
    })
  }
  if (results.p7.runs.length > 0) {
    const perWindow = results.p7.runs.flatMap((run) => run.filter((r) => r.store).flatMap((r) => r.requestsPerWindow))
    list.push({
      scenario: "P7 fleet with Redis",
      goal: "1 token request per window",
      figure: `max ${Math.max(...perWindow)} over ${perWindow.length} windows`,
      met: perWindow.every((n) => n === 1),
      invariant: false
    })
    const ratio = summarize(results.p7.runs.map((run) => {
      const shared = run.find((r) => r.store)
      const alone = run.find((r) => !r.store)
      return shared === undefined || alone === undefined
        ? NaN
        : shared.warmLatencyMicros.p99 / alone.warmLatencyMicros.p99
    }))
    list.push({
      scenario: "P7 warm path",
      goal: "never touches Redis (p99 with ÷ without ≈ 1)",
      figure: `${formatSummary(ratio)}×`,
      met: ratio.median <= 1.5,
      invariant: false
    })
  }
  for (const crash of results.crashes) {
    list.push({ scenario: "crash", goal: "no contender crashes", figure: crash, met: false, invariant: true })
  }
  return list
}

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [
    `| ${header.join(" | ")} |`,
    `| ${header.map((_, i) => i === 0 ? "---" : "---:").join(" | ")} |`,
    ...rows.map((row) => `| ${row.join(" | ")} |`)
  ].join("\n")

/**
 * @since 0.1.0
 * @category report
 */
export const markdown = (results: Results, contenders: ReadonlyArray<Contender>, goalList: ReadonlyArray<Goal>) => {
  const { meta, plan } = { meta: results.meta, plan: results.meta.plan }
  const lines: Array<string> = []
  lines.push(`# oauth-cc benchmark${meta.quick ? " (quick)" : ""}`)
  lines.push("")
  lines.push(
    `${meta.date} · Node ${meta.node} · ${meta.cores} cores (${meta.cpu}) · load average at start ${
      meta.loadAverage.map((n) => n.toFixed(1)).join(" ")
    } · ${meta.runs} runs after a warm-up${meta.seconds === undefined ? "" : ` · ${Math.round(meta.seconds)} s`}`
  )
  lines.push("")
  lines.push(
    "Each figure: the median of the runs, (min–max) when they differ. Ratios are computed within a run, " +
      "against the static-header baseline on the same HTTP client (oauth-cc: @effect/platform-node's undici " +
      "client; the others: `undici.request`), then their median is taken. The machine is shared: absolute " +
      "numbers are noisy, ratios are what counts."
  )
  lines.push("")
  lines.push("## Goals")
  lines.push("")
  lines.push(table(
    ["scenario", "goal", "oauth-cc", "met"],
    goalList.map((g) => [g.scenario, g.goal, g.figure, g.met ? "yes" : g.invariant ? "**NO (invariant)**" : "**no**"])
  ))
  lines.push("")

  // the main table
  const sizes = plan.p1Sizes
  const windows = plan.p5.seconds / p5RateLimit.retryAfterSeconds
  const header = [
    "contender",
    ...sizes.map((n) => `P1 token req. (${n.toLocaleString("en")})`),
    "P2 token req.",
    "P2 p50 ms",
    "P2 p99 ms",
    "P2 max ms",
    "P2 p99 ÷ static",
    "P2 401s",
    "P2 errors",
    "P4 req/s",
    "P4 ÷ static",
    "P5 429s / window",
    "P5 failed"
  ]
  const rows = contenders.map((c) => {
    const p1 = sizes.map((size) =>
      c.baseline ?
        "–" :
        formatSummary(summarize(results.p1.flatMap((run) =>
          run.filter((r) =>
            r.contender === c.name && r.size === size
          ).map((r) => r.tokenRequests)
        )))
    )
    const base = baselineOf(c).name
    const p4 = summarize(results.p4.map((r) => r[c.name]?.rps ?? NaN))
    const p4Ratio = summarize(results.p4.map((r) => (r[c.name]?.rps ?? NaN) / r[base].rps))
    return [
      c.baseline ? `*${c.name}*` : `**${c.name}**`,
      ...p1,
      c.baseline ? "–" : formatSummary(loadFigure(results.p2, c.name, (r) => r.tokenRequests)),
      formatSummary(loadFigure(results.p2, c.name, (r) => r.p50)),
      formatSummary(loadFigure(results.p2, c.name, (r) => r.p99)),
      formatSummary(loadFigure(results.p2, c.name, (r) => r.max)),
      c.baseline ? "1" : formatSummary(loadFigure(results.p2, c.name, ratioToBaseline(c, "p99"))),
      formatSummary(loadFigure(results.p2, c.name, (r) => r.resource401)),
      formatSummary(loadFigure(results.p2, c.name, (r) => r.failed - r.resource401)),
      formatSummary(p4),
      c.baseline ? "1" : formatSummary(p4Ratio),
      c.baseline ? "–" : formatSummary(loadFigure(results.p5, c.name, (r) => r.token429 / windows)),
      c.baseline ? "–" : formatSummary(loadFigure(results.p5, c.name, (r) => r.failed))
    ]
  })
  lines.push("## Contenders × scenarios")
  lines.push("")
  lines.push(table(header, rows))
  lines.push("")
  lines.push(
    `- **P1 cold stampede**: ${sizes.map((n) => n.toLocaleString("en")).join(" and ")} concurrent first ` +
      `\`get\`s on a fresh instance → token requests the server received (goal: 1).`
  )
  lines.push(
    `- **P2 expiry under load**: ${plan.p2.callers} callers making authorized requests for ${plan.p2.seconds} s, ` +
      `tokens of ${shortTtlSeconds} s, token endpoint answering in ${tokenDelayMillis} ms; latency of each ` +
      `authorized request (token + resource). "401s": requests the resource rejected (sent with an expired ` +
      `token); "errors": no HTTP answer (transport). Token requests exclude the warm-up token.`
  )
  lines.push(
    `- P1 runs after P2–P5: its 10,000-socket stampedes leave tens of thousands of loopback sockets in ` +
      `TIME_WAIT, which most likely made later connections fail (transport errors for every client, Effect ` +
      `and undici alike) when P1 ran first in an earlier full run.`
  )
  lines.push(
    `- **P4 throughput**: ${plan.p4.callers} concurrent loops, a 1-hour token (the warm path), ` +
      `${plan.p4.rounds} alternating turns of ${plan.p4.sliceMillis} ms per contender.`
  )
  const dpopRuns = results.p4.filter((r) => r[oauthCcDPoP.name] !== undefined)
  if (dpopRuns.length > 0) {
    lines.push(
      `- **P4 with DPoP**: oauth-cc with an ES256 DPoP key (a new proof with \`ath\` signed per request) takes its ` +
        `turns with the others: ${formatSummary(summarize(dpopRuns.map((r) => r[oauthCcDPoP.name]!.rps)))} req/s, ` +
        `${formatSummary(summarize(dpopRuns.map((r) => r[oauthCcDPoP.name]!.rps / r["oauth-cc"]!.rps)))}× oauth-cc ` +
        `with Bearer. The bench server does not verify proofs, so the ratio is the client's cost.`
    )
  }
  lines.push(
    `- **P5 rate-limited server**: P2's load (${plan.p5.callers} callers, ${plan.p5.seconds} s) against a server ` +
      `allowing ${p5RateLimit.requests} token request per ${p5RateLimit.perMillis / 1000} s and answering 429 with ` +
      `\`Retry-After: ${p5RateLimit.retryAfterSeconds}\` beyond. oauth-cc's refresh-ahead wants a token every ` +
      `~0.8 s with 2 s tokens, a little more than the server allows, so it meets 429s too; it waits as told ` +
      `and keeps serving the current token meanwhile.`
  )
  lines.push("")

  // P3
  lines.push("## P3 warm cache: where the time of `get` goes")
  lines.push("")
  const names = Object.keys(results.p3[0]?.effect ?? {})
  lines.push(table(
    ["variant (one fiber, interleaved turns)", "calls/s", "ns/call", "÷ limit"],
    names.map((name) => {
      const rate = summarize(results.p3.map((r) => r.effect[name]))
      const ns = summarize(results.p3.map((r) => 1e9 / r.effect[name]))
      const ratio = summarize(results.p3.map((r) => r.effect[name] / r.effect[p3Limit]))
      return [name, formatSummary(rate), formatSummary(ns), formatSummary(ratio)]
    })
  ))
  lines.push("")
  const promiseNames = Object.keys(results.p3[0]?.promise ?? {})
  if (promiseNames.length > 0) {
    lines.push(
      "Promise contenders' warm `get` (an `await` per call, not the same harness, for scale): " +
        promiseNames.map((n) => `${n} ${formatSummary(summarize(results.p3.map((r) => r.promise[n])))}/s`).join(
          " · "
        ) + "."
    )
    lines.push("")
  }

  // P6
  if (results.p6.length > 0) {
    lines.push("## P6 memory")
    lines.push("")
    lines.push(table(
      ["figure", "value"],
      [
        [
          `oauth-cc heap per cached key (${results.p6[0].keys.toLocaleString("en")} keys, all kept)`,
          `${formatSummary(summarize(results.p6.map((r) => r.bytesPerKey)))} B`
        ],
        [
          "floor: a `Map` of the same tokens (value + expiry)",
          `${formatSummary(summarize(results.p6.map((r) => r.mapBytesPerKey)))} B`
        ],
        [
          `oauth-cc, default bound (${results.p6[0].bound.toLocaleString("en")} kept), heap ÷ ${
            results.p6[0].boundKeys.toLocaleString("en")
          } sets`,
          `${formatSummary(summarize(results.p6.map((r) => r.boundedBytesPerKey)))} B`
        ],
        [
          "filling the unbounded cache (one `getFor` per set, 50 at a time, in-process token issuer)",
          `${formatSummary(summarize(results.p6.map((r) => r.fillMillis)))} ms`
        ],
        [
          `bound (${
            results.p6[0].boundKeys.toLocaleString("en")
          } sets): token requests when the 1,000 most recent ask again`,
          results.p6.map((r) => String(r.recentRefetched)).join(", ")
        ],
        [
          "bound: token requests when the 100 oldest ask again",
          results.p6.map((r) => String(r.oldestRefetched)).join(", ")
        ]
      ]
    ))
    lines.push("")
  }

  // P7
  lines.push("## P7 fleet: N processes with and without the Redis store")
  lines.push("")
  if (results.p7.skipped !== undefined) {
    lines.push(results.p7.skipped)
  } else {
    lines.push(table(
      [
        "store",
        "processes",
        "token req. per window (cold, then refreshes)",
        "warm get p50 µs",
        "p99 µs",
        "failed gets"
      ],
      [false, true].map((store) => {
        const runs = results.p7.runs.map((run) => run.find((r) => r.store === store)!).filter((r) => r !== undefined)
        return [
          store ? "Redis" : "none (memory)",
          String(runs[0]?.processes ?? "–"),
          runs.map((r) => `[${r.requestsPerWindow.join(", ")}]`).join(" "),
          formatSummary(summarize(runs.map((r) => r.warmLatencyMicros.p50))),
          formatSummary(summarize(runs.map((r) => r.warmLatencyMicros.p99))),
          formatSummary(summarize(runs.map((r) => r.failures)))
        ]
      })
    ))
  }
  lines.push("")

  lines.push("## Setup")
  lines.push("")
  lines.push(
    `- One process: contenders on the main thread; the token server and protected resource on a worker thread ` +
      `(plain \`node:http\`, loopback). The testkit's \`FakeAuthServer\` (socket mode, same worker setup) answered ` +
      `${formatNumber(results.calibration.testkitRps)} static-bearer resource requests/s against ` +
      `${formatNumber(results.calibration.plainRps)} for the plain server (64 connections), so it would have been ` +
      `the bottleneck of P2/P4 (a fiber and a journal entry per request); the plain server checks client ` +
      `authentication (Basic, form-encoded), issues opaque tokens, rejects expired ones with 401, and rate-limits ` +
      `with \`Retry-After\` as the testkit does.`
  )
  lines.push(
    "- oauth-cc: `NodeAuthorizedHttpClient.layer` (core `TokenProvider` + `AuthorizedHttpClient` over undici, " +
      "64 connections), its defaults otherwise (skew capped at half the lifetime, refresh-ahead at 80 %)."
  )
  lines.push(
    "- hand-written: a TypeScript port of seed 002's `TokenProvider` (expiry check, `await fetch`, no lock)."
  )
  lines.push(
    "- openid-client 6: `clientCredentialsGrant` on a manual `Configuration` (+ `allowInsecureRequests`), " +
      "cached in a variable with an expiry check."
  )
  lines.push(
    "- simple-oauth2 5: `ClientCredentials.getToken`, refetched when `token.expired(window)`; the docs' 60 s " +
      "window is capped at half the token lifetime like oauth-cc's skew (60 s with 2 s tokens would refetch on " +
      "every call)."
  )
  lines.push(
    "- Token requests of the Promise contenders use their own HTTP stacks (global `fetch`, or wreck for " +
      "simple-oauth2); every resource request goes through undici."
  )
  lines.push("")
  lines.push("![P2 latency timeline](p2-timeline.svg)")
  lines.push("")
  lines.push("![P1 token requests](p1-counts.svg)")
  lines.push("")
  lines.push("![P5 429s](p5-counts.svg)")
  lines.push("")
  return lines.join("\n")
}

/**
 * The SVG charts: file name → SVG.
 *
 * @since 0.1.0
 * @category report
 */
export const charts = async (
  results: Results,
  contenders: ReadonlyArray<Contender>
): Promise<Record<string, string>> => {
  // the timeline of the run whose oauth-cc p99 is the median one
  const p2 = results.p2
  const byP99 = [...p2.keys()].sort((a, b) =>
    (p2[a].find((r) => r.contender === "oauth-cc")?.p99 ?? 0) -
    (p2[b].find((r) => r.contender === "oauth-cc")?.p99 ?? 0)
  )
  const run = p2[byP99[Math.floor(byP99.length / 2)]] ?? []
  const timelineRows = contenders.flatMap((c) =>
    (run.find((r) => r.contender === c.name)?.timeline ?? []).map(([t, p99, max]) => ({
      contender: c.name,
      t,
      p99,
      max
    }))
  )
  const p1Rows = results.meta.plan.p1Sizes.flatMap((size) =>
    contenders.filter((c) => !c.baseline).map((c) => ({
      contender: c.name,
      case: `${size.toLocaleString("en")} concurrent first calls`,
      count: summarize(results.p1.flatMap((r) =>
        r.filter((x) =>
          x.contender === c.name && x.size === size
        ).map((x) => x.tokenRequests)
      )).median
    }))
  )
  const p5Rows = contenders.filter((c) => !c.baseline).flatMap((c) => [
    { contender: c.name, case: "429s provoked", count: loadFigure(results.p5, c.name, (r) => r.token429).median },
    { contender: c.name, case: "token requests", count: loadFigure(results.p5, c.name, (r) => r.tokenRequests).median }
  ])
  return {
    "p2-timeline.svg": await Charts.render(
      Charts.timeline(
        timelineRows,
        `P2: latency of authorized requests over time (${results.meta.plan.p2.callers} callers, 2 s tokens)`
      )
    ),
    "p1-counts.svg": await Charts.render(
      Charts.counts(p1Rows, "P1: token requests for a cold stampede", "token requests (log)")
    ),
    "p5-counts.svg": await Charts.render(
      Charts.counts(
        p5Rows,
        `P5: server allowing 1 token request/s (${results.meta.plan.p5.seconds} s of load)`,
        "count (log)"
      )
    )
  }
}
