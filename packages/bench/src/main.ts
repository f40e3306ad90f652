/**
 * `pnpm bench [--quick] [--runs N] [--out DIR] [--no-p7]`: every scenario, every contender, one process.
 *
 * Writes `latest.md`, `latest.json` and SVG charts to `bench/results/` at the repository root (with
 * `--quick`: to a temporary directory, so a CI smoke run leaves the committed results alone), prints
 * the markdown to stdout, and exits 1 only when a contender crashed or an invariant broke (oauth-cc
 * asking for more than one token in P1, sending a request with an expired token, failing a request in
 * P4, or its key bound not holding). Goals
 * missed are reported, not failed.
 *
 * @since 0.1.0
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as BenchServer from "./BenchServer.js"
import { calibrate } from "./Calibration.js"
import * as Contenders from "./Contenders.js"
import * as Fleet from "./Fleet.js"
import * as Report from "./Report.js"
import * as Scenarios from "./Scenarios.js"

const args = process.argv.slice(2).filter((a) => a !== "--")
const flag = (name: string) => args.includes(name)
const option = (name: string): string | undefined => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const quick = flag("--quick")
const runs = Number(option("--runs") ?? (quick ? 1 : 5))
const repoRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")
const outDir = option("--out") ??
  (quick ? Path.join(Os.tmpdir(), "oauth-cc-bench-quick") : Path.join(repoRoot, "bench/results"))

const plan: Scenarios.Plan = quick
  ? {
    runs,
    p1Sizes: [1_000],
    p2: { callers: 200, seconds: 2.5 },
    p3: { sliceMillis: 10, rounds: 10 },
    p4: { callers: 64, sliceMillis: 150, rounds: 2 },
    p5: { callers: 100, seconds: 2.5 },
    p6Keys: 500,
    p6BoundKeys: 1_200
  }
  : {
    runs,
    p1Sizes: [1_000, 10_000],
    p2: { callers: 200, seconds: Number(option("--p2-seconds") ?? 10) },
    p3: { sliceMillis: 20, rounds: 25 },
    p4: { callers: 64, sliceMillis: 250, rounds: 6 },
    p5: { callers: 100, seconds: 5 },
    p6Keys: 10_000,
    p6BoundKeys: 2_000
  }

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`)

const main = async () => {
  const began = performance.now()
  const contenders = Contenders.all
  const results: Report.Results = {
    meta: {
      date: new Date().toISOString(),
      node: process.version,
      cores: Os.cpus().length,
      cpu: Os.cpus()[0]?.model.trim() ?? "unknown",
      loadAverage: Os.loadavg(),
      quick,
      runs,
      plan
    },
    calibration: { plainRps: NaN, testkitRps: NaN },
    p1: [],
    p2: [],
    p3: [],
    p4: [],
    p5: [],
    p6: [],
    p7: { runs: [] },
    crashes: []
  }
  const server = await BenchServer.start()
  const guarded = async <A>(what: string, f: () => Promise<A>): Promise<A | undefined> => {
    try {
      return await f()
    } catch (error) {
      const message = `${what}: ${error instanceof Error ? error.message : String(error)}`.slice(0, 300)
      log(`CRASH ${message}`)
      results.crashes.push(message)
      return undefined
    }
  }
  try {
    log(`server on ${server.origin}; calibrating`)
    const calibration = await guarded("calibration", () => calibrate(server, quick ? 300 : 500, quick ? 1 : 3))
    if (calibration !== undefined) Object.assign(results, { calibration })

    log("warm-up")
    for (const contender of contenders) {
      await guarded(`warm-up ${contender.name}`, async () => {
        await server.reset({ ttlSeconds: 2, tokenDelayMillis: 0 })
        const instance = await contender.make(server, { ttlSeconds: 2 })
        await instance.stampede(50)
        await instance.load(50, quick ? 200 : 500, () => {})
        await instance.getThroughput(50)
        await instance.close()
      })
    }

    for (let run = 0; run < runs; run++) {
      log(`run ${run + 1}/${runs}: P2`)
      const p2 = await guarded("P2", () => Scenarios.p2(server, contenders, plan, run))
      if (p2 !== undefined) results.p2.push(p2)
      log(`run ${run + 1}/${runs}: P3`)
      const p3 = await guarded("P3", () => Scenarios.p3(server, contenders, plan, run))
      if (p3 !== undefined) results.p3.push(p3)
      log(`run ${run + 1}/${runs}: P4`)
      // P4 also runs oauth-cc with DPoP, for the cost of a proof per request (DPoP ÷ Bearer)
      const p4 = await guarded("P4", () => Scenarios.p4(server, [...contenders, Contenders.oauthCcDPoP], plan, run))
      if (p4 !== undefined) results.p4.push(p4)
      log(`run ${run + 1}/${runs}: P5`)
      const p5 = await guarded("P5", () => Scenarios.p5(server, contenders.filter((c) => !c.baseline), plan, run))
      if (p5 !== undefined) results.p5.push(p5)
    }

    // last: P1's stampedes leave thousands of sockets in TIME_WAIT
    for (let run = 0; run < runs; run++) {
      log(`run ${run + 1}/${runs}: P1`)
      const p1: Array<Scenarios.P1Run> = []
      for (const size of plan.p1Sizes) {
        const r = await guarded(
          `P1 ${size}`,
          () => Scenarios.p1(server, contenders.filter((c) => !c.baseline), size, run)
        )
        if (r !== undefined) p1.push(...r)
      }
      results.p1.push(p1)
    }

    const p6Runs = Number(option("--p6-runs") ?? 1)
    for (let run = 0; run < p6Runs; run++) {
      log(`P6 ${run + 1}/${p6Runs} (${plan.p6Keys} keys)`)
      const p6 = await guarded("P6", () => Scenarios.p6(plan.p6Keys, plan.p6BoundKeys))
      if (p6 !== undefined) results.p6.push(p6)
    }
  } finally {
    await server.close()
  }

  if (quick || flag("--no-p7")) {
    Object.assign(results.p7, { skipped: "P7 not run (`--quick` or `--no-p7`)." })
  } else {
    const skipped = await Fleet.unavailable()
    if (skipped !== undefined) {
      log(skipped)
      Object.assign(results.p7, { skipped })
    } else {
      const p7Runs = Number(option("--p7-runs") ?? 3)
      const processes = Number(option("--p7-processes") ?? 10)
      for (let run = 0; run < p7Runs; run++) {
        log(`P7 ${run + 1}/${p7Runs} (${processes} processes, without and with Redis)`)
        const p7 = await guarded("P7", () => Fleet.p7(processes, 3))
        if (p7 !== undefined) results.p7.runs.push(p7)
      }
    }
  }

  Object.assign(results.meta, { seconds: (performance.now() - began) / 1000 })
  const goalList = Report.goals(results, contenders)
  const markdown = Report.markdown(results, contenders, goalList)
  Fs.mkdirSync(outDir, { recursive: true })
  Fs.writeFileSync(Path.join(outDir, "latest.md"), markdown + "\n")
  Fs.writeFileSync(Path.join(outDir, "latest.json"), JSON.stringify({ ...results, goals: goalList }, null, 1) + "\n")
  const charts = await guarded("charts", () => Report.charts(results, contenders))
  for (const [name, svg] of Object.entries(charts ?? {})) Fs.writeFileSync(Path.join(outDir, name), svg)
  process.stdout.write(markdown + "\n")
  log(`results in ${outDir}`)
  const broken = goalList.filter((g) => g.invariant && !g.met)
  if (broken.length > 0) {
    log(`FAILED: ${broken.map((g) => `${g.scenario}: ${g.goal} (${g.figure})`).join("; ")}`)
    process.exitCode = 1
  }
}

main().then(
  // undici agents and fetch keep-alive sockets would keep the process up a few seconds more
  () => process.exit(process.exitCode ?? 0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
