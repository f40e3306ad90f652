/**
 * Scenarios P1–P6. Each returns its raw per-run figures; `Report` turns them into tables and charts.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as AccessToken from "@oauth-cc/core/AccessToken"
import * as TokenProvider from "@oauth-cc/core/TokenProvider"
import * as TokenStore from "@oauth-cc/core/TokenStore"
import * as NodeTokenProvider from "@oauth-cc/node-adapter/NodeTokenProvider"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Crypto from "node:crypto"
import * as V8 from "node:v8"
import { runInNewContext } from "node:vm"
import type { BenchServer } from "./BenchServer.js"
import { clientId, clientSecret } from "./BenchServer.js"
import { type Contender, type Instance, oauthCcOptions } from "./Contenders.js"
import { percentile } from "./Stats.js"

/**
 * How big and how long.
 *
 * @since 0.1.0
 * @category models
 */
export interface Plan {
  readonly runs: number
  readonly p1Sizes: ReadonlyArray<number>
  readonly p2: { readonly callers: number; readonly seconds: number }
  readonly p3: { readonly sliceMillis: number; readonly rounds: number }
  readonly p4: { readonly callers: number; readonly sliceMillis: number; readonly rounds: number }
  readonly p5: { readonly callers: number; readonly seconds: number }
  readonly p6Keys: number
  readonly p6BoundKeys: number
}

/**
 * The token endpoint's answer time in P1, P2 and P5: a token endpoint is a remote service, and the
 * time callers wait for it is what the stampede and the expiry spikes are made of.
 *
 * @since 0.1.0
 * @category constants
 */
export const tokenDelayMillis = 25

/**
 * The token lifetime of P2 and P5, as the issue asks.
 *
 * @since 0.1.0
 * @category constants
 */
export const shortTtlSeconds = 2

const longTtlSeconds = 3_600

/** Runs `f` once per contender, in an order that rotates with the run, so no one always goes first. */
const rotated = <A>(items: ReadonlyArray<A>, run: number): ReadonlyArray<A> =>
  items.map((_, i) => items[(i + run) % items.length])

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

// -----------------------------------------------------------------------------
// P1 cold stampede
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface P1Run {
  readonly contender: string
  readonly size: number
  readonly tokenRequests: number
  readonly failed: number
  readonly millis: number
}

/**
 * P1: `size` concurrent first calls for a token on a fresh instance → token requests made.
 *
 * @since 0.1.0
 * @category scenarios
 */
export const p1 = async (
  server: BenchServer,
  contenders: ReadonlyArray<Contender>,
  size: number,
  run: number
): Promise<Array<P1Run>> => {
  const results: Array<P1Run> = []
  for (const contender of rotated(contenders, run)) {
    await server.reset({ ttlSeconds: longTtlSeconds, tokenDelayMillis })
    const instance = await contender.make(server, { ttlSeconds: longTtlSeconds })
    const start = performance.now()
    const { failed } = await instance.stampede(size)
    const millis = performance.now() - start
    await instance.close()
    const stats = await server.stats()
    results.push({ contender: contender.name, size, tokenRequests: stats.tokenRequests, failed, millis })
    await sleep(50)
  }
  return results
}

// -----------------------------------------------------------------------------
// P2 expiry under load, P5 rate-limited server
// -----------------------------------------------------------------------------

/**
 * The requests of one load run, as parallel arrays.
 *
 * @since 0.1.0
 * @category models
 */
export interface Samples {
  readonly starts: Array<number>
  readonly latencies: Array<number>
  readonly statuses: Array<number>
}

const collect = async (instance: Instance, callers: number, millis: number): Promise<Samples> => {
  const samples: Samples = { starts: [], latencies: [], statuses: [] }
  const origin = performance.now()
  await instance.load(callers, millis, (start, latency, status) => {
    samples.starts.push(start - origin)
    samples.latencies.push(latency)
    samples.statuses.push(status)
  })
  return samples
}

/**
 * @since 0.1.0
 * @category models
 */
export interface LoadRun {
  readonly contender: string
  readonly requests: number
  readonly failed: number
  readonly resource401: number
  readonly tokenRequests: number
  readonly token429: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  /** 100 ms buckets: [bucket start (s), p99 (ms), max (ms)]. */
  readonly timeline: ReadonlyArray<readonly [number, number, number]>
}

const timelineOf = (samples: Samples, bucketMillis = 100): Array<readonly [number, number, number]> => {
  const buckets = new Map<number, Array<number>>()
  for (let i = 0; i < samples.starts.length; i++) {
    const bucket = Math.floor(samples.starts[i] / bucketMillis)
    let list = buckets.get(bucket)
    if (list === undefined) buckets.set(bucket, list = [])
    list.push(samples.latencies[i])
  }
  return [...buckets.entries()].sort(([a], [b]) => a - b).map((
    [bucket, latencies]
  ) => [bucket * bucketMillis / 1000, percentile(latencies, 99), percentile(latencies, 100)] as const)
}

const loadRun = async (
  server: BenchServer,
  contender: Contender,
  config: Parameters<BenchServer["reset"]>[0],
  callers: number,
  seconds: number
): Promise<LoadRun> => {
  await server.reset(config)
  const instance = await contender.make(server, { ttlSeconds: config.ttlSeconds })
  // the instance is warm (one token) before the clock starts: P1 measures the cold start
  await instance.stampede(1)
  const samples = await collect(instance, callers, seconds * 1000)
  await instance.close()
  const stats = await server.stats()
  const failed = samples.statuses.filter((s) => s !== 200).length
  return {
    contender: contender.name,
    requests: samples.latencies.length,
    failed,
    resource401: samples.statuses.filter((s) => s === 401).length,
    // minus the warm-up token
    tokenRequests: Math.max(0, stats.tokenRequests - (contender.baseline ? 0 : 1)),
    token429: stats.token429,
    p50: percentile(samples.latencies, 50),
    p99: percentile(samples.latencies, 99),
    max: percentile(samples.latencies, 100),
    timeline: timelineOf(samples)
  }
}

/**
 * P2: 200 callers making authorized requests for 10 s while 2 s tokens expire.
 *
 * @since 0.1.0
 * @category scenarios
 */
export const p2 = async (
  server: BenchServer,
  contenders: ReadonlyArray<Contender>,
  plan: Plan,
  run: number
): Promise<Array<LoadRun>> => {
  const results: Array<LoadRun> = []
  for (const contender of rotated(contenders, run)) {
    results.push(
      await loadRun(
        server,
        contender,
        { ttlSeconds: shortTtlSeconds, tokenDelayMillis },
        plan.p2.callers,
        plan.p2.seconds
      )
    )
    await sleep(50)
  }
  return results
}

/**
 * P5's server: one token request per second, `Retry-After: 1` beyond.
 *
 * @since 0.1.0
 * @category constants
 */
export const p5RateLimit = { requests: 1, perMillis: 1_000, retryAfterSeconds: 1 } as const

/**
 * P5: P2's load against a server that allows one token request per second.
 *
 * @since 0.1.0
 * @category scenarios
 */
export const p5 = async (
  server: BenchServer,
  contenders: ReadonlyArray<Contender>,
  plan: Plan,
  run: number
): Promise<Array<LoadRun>> => {
  const results: Array<LoadRun> = []
  for (const contender of rotated(contenders, run)) {
    results.push(
      await loadRun(
        server,
        contender,
        { ttlSeconds: shortTtlSeconds, tokenDelayMillis, rateLimit: p5RateLimit },
        plan.p5.callers,
        plan.p5.seconds
      )
    )
    await sleep(50)
  }
  return results
}

// -----------------------------------------------------------------------------
// P3 warm cache
// -----------------------------------------------------------------------------

/**
 * Runs the effects in turns of `sliceMillis` (the order rotating each round), in one fiber, and returns
 * each one's calls per second over all its turns. Short alternating turns keep the machine's load
 * changes out of the ratios.
 *
 * @since 0.1.0
 * @category harness
 */
export const interleave = <R>(
  effects: Record<string, Effect.Effect<unknown, unknown, R>>,
  sliceMillis: number,
  rounds: number
): Effect.Effect<Record<string, number>, unknown, R> =>
  Effect.gen(function*() {
    const names = Object.keys(effects)
    const ops: Record<string, number> = {}
    const time: Record<string, number> = {}
    for (const name of names) {
      ops[name] = 0
      time[name] = 0
      for (let i = 0; i < 5_000; i++) yield* effects[name]
    }
    for (let round = 0; round < rounds; round++) {
      for (let j = 0; j < names.length; j++) {
        const name = names[(j + round) % names.length]
        const effect = effects[name]
        const start = performance.now()
        const end = start + sliceMillis
        let n = 0
        while (performance.now() < end) {
          for (let i = 0; i < 250; i++) yield* effect
          n += 250
        }
        ops[name] += n
        time[name] += performance.now() - start
      }
    }
    return Object.fromEntries(names.map((name) => [name, ops[name] / time[name] * 1000]))
  })

/**
 * The hit path of `TokenProvider.get`, taken apart with the same public pieces core uses
 * (`internal/tokenProvider.ts` `getKey` over `internal/tokenStore.ts` `makeMemory`), so the cost of each
 * step shows: the limit (a `Ref` and a clock read), the memory store's `get` (`Option` from a `Map` in
 * a `Ref`), the `Metric.increment` per hit, and the expiry arithmetic (`AccessToken.effectiveSkew`, which
 * decodes the skew `Duration` on each call, twice per hit).
 *
 * @since 0.1.0
 * @category scenarios
 */
export const hotPathVariants = (
  token: AccessToken.AccessToken,
  store: TokenStore.Service,
  key: string
): Record<string, Effect.Effect<unknown, unknown>> => {
  const ref = Ref.unsafeMake(token)
  const skew = 1_000
  const hitCounter = Metric.tagged(
    Metric.counter("oauth_cc_bench_cache_total", { incremental: true }),
    "result",
    "hit"
  )
  const check = (clockNow: number, t: AccessToken.AccessToken) => clockNow < t.expiresAt - skew
  // as core's getKey: the skew is a DurationInput decoded on every call
  const serveUntil = (t: AccessToken.AccessToken) => t.expiresAt - AccessToken.effectiveSkew(t, skew)
  const refreshAt = (t: AccessToken.AccessToken) => t.issuedAt + 0.8 * (serveUntil(t) - t.issuedAt)
  // computed once per token (e.g. in the store entry, beside its `Option`)
  const precomputed = { serveUntil: serveUntil(token), refreshAt: refreshAt(token), succeed: Effect.succeed(token) }
  return {
    "limit: Ref.get + Clock": Effect.clockWith((clock) =>
      Effect.map(Ref.get(ref), (t) => check(clock.unsafeCurrentTimeMillis(), t) ? t : undefined)
    ),
    "+ memory store get (Option)": Effect.clockWith((clock) =>
      Effect.flatMap(
        store.get(key),
        (cached) =>
          cached._tag === "Some" && check(clock.unsafeCurrentTimeMillis(), cached.value)
            ? Effect.succeed(cached.value)
            : Effect.void
      )
    ),
    "+ Metric.increment per hit": Effect.clockWith((clock) =>
      Effect.flatMap(
        store.get(key),
        (cached) =>
          cached._tag === "Some" && check(clock.unsafeCurrentTimeMillis(), cached.value)
            ? Effect.as(Metric.increment(hitCounter), cached.value)
            : Effect.void
      )
    ),
    "+ AccessToken.effectiveSkew twice per hit (core getKey before the fix)": Effect.clockWith((clock) =>
      Effect.flatMap(store.get(key), (cached) => {
        if (cached._tag !== "Some") return Effect.void
        const t = cached.value
        const now = clock.unsafeCurrentTimeMillis()
        if (now < serveUntil(t)) {
          const hit = Effect.as(Metric.increment(hitCounter), t)
          return now < refreshAt(t) ? hit : hit
        }
        return Effect.void
      })
    ),
    "bounds as arithmetic, counter.unsafeUpdate (core getKey now)": Effect.clockWith((clock) =>
      Effect.flatMap(store.get(key), (cached) => {
        if (cached._tag !== "Some") return Effect.void
        const now = clock.unsafeCurrentTimeMillis()
        if (now < precomputed.serveUntil) {
          hitCounter.unsafeUpdate(1, [])
          return now < precomputed.refreshAt ? precomputed.succeed : precomputed.succeed
        }
        return Effect.void
      })
    ),
    "Metric.increment alone": Metric.increment(hitCounter)
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface P3Run {
  /** Effect variants, calls per second in one interleaved run. */
  readonly effect: Record<string, number>
  /** Promise contenders' warm `get`, calls per second (informative: not the same harness). */
  readonly promise: Record<string, number>
}

/**
 * P3: warm `get` throughput in a fiber ÷ the `Ref.get` + `Clock` limit, with the breakdown.
 *
 * @since 0.1.0
 * @category scenarios
 */
export const p3 = async (
  server: BenchServer,
  contenders: ReadonlyArray<Contender>,
  plan: Plan,
  run: number
): Promise<P3Run> => {
  await server.reset({ ttlSeconds: longTtlSeconds, tokenDelayMillis: 0 })
  const runtime = ManagedRuntime.make(NodeTokenProvider.layer(oauthCcOptions(server)))
  const effect = await runtime.runPromise(Effect.gen(function*() {
    const provider = yield* TokenProvider.TokenProvider
    const token = yield* provider.get
    const store = yield* TokenStore.makeMemory()
    yield* store.set("key", token)
    return yield* interleave(
      {
        "oauth-cc provider.get": provider.get,
        "oauth-cc TokenProvider.get (from context)": TokenProvider.get,
        ...hotPathVariants(token, store, "key")
      },
      plan.p3.sliceMillis,
      plan.p3.rounds
    )
  }))
  await runtime.dispose()
  const promise: Record<string, number> = {}
  for (const contender of rotated(contenders.filter((c) => c.client === "undici"), run)) {
    const instance = await contender.make(server, { ttlSeconds: longTtlSeconds })
    promise[contender.name] = await instance.getThroughput(plan.p3.sliceMillis * plan.p3.rounds / 4)
    await instance.close()
  }
  return { effect, promise }
}

// -----------------------------------------------------------------------------
// P4 authorized request throughput
// -----------------------------------------------------------------------------

/**
 * P4: authorized requests per second with `callers` concurrent loops (a 300 s token, the warm path),
 * in alternating turns of `sliceMillis` over one instance per contender.
 *
 * @since 0.1.0
 * @category scenarios
 */
export const p4 = async (
  server: BenchServer,
  contenders: ReadonlyArray<Contender>,
  plan: Plan,
  run: number
): Promise<Record<string, { readonly rps: number; readonly failed: number }>> => {
  await server.reset({ ttlSeconds: longTtlSeconds, tokenDelayMillis: 0 })
  const order = rotated(contenders, run)
  const instances = new Map<string, Instance>()
  for (const contender of order) {
    const instance = await contender.make(server, { ttlSeconds: longTtlSeconds })
    await instance.load(8, 100, () => {})
    instances.set(contender.name, instance)
  }
  const done = new Map(order.map((c) => [c.name, { requests: 0, failed: 0, millis: 0 }]))
  for (let round = 0; round < plan.p4.rounds; round++) {
    for (const contender of rotated(order, round)) {
      const tally = done.get(contender.name)!
      const start = performance.now()
      await instances.get(contender.name)!.load(plan.p4.callers, plan.p4.sliceMillis, (_s, _l, status) => {
        tally.requests++
        if (status !== 200) tally.failed++
      })
      tally.millis += performance.now() - start
    }
  }
  for (const instance of instances.values()) await instance.close()
  return Object.fromEntries(
    [...done].map(([name, t]) => [name, { rps: t.requests / (t.millis / 1000), failed: t.failed }])
  )
}

// -----------------------------------------------------------------------------
// P6 memory
// -----------------------------------------------------------------------------

/** Node lets a running program turn `gc` on. */
const gc = (): () => void => {
  V8.setFlagsFromString("--expose-gc")
  return runInNewContext("gc") as () => void
}

const heapAfterGc = (): number => {
  const collect = gc()
  collect()
  collect()
  return process.memoryUsage().heapUsed
}

/**
 * @since 0.1.0
 * @category models
 */
export interface P6Run {
  readonly keys: number
  /** Parameter sets asked for with the default bound. */
  readonly boundKeys: number
  /** Heap per key with room for every key (`maxCachedKeys` = keys). */
  readonly bytesPerKey: number
  /** A `Map` of the same tokens (value string + expiry): the floor for any keyed cache. */
  readonly mapBytesPerKey: number
  /** Heap per key of the `boundKeys` parameter sets with the default bound (1,000 kept). */
  readonly boundedBytesPerKey: number
  /** Filling the unbounded cache, ms. */
  readonly fillMillis: number
  /** With the default bound: the last 1,000 keys are served without a request… */
  readonly recentRefetched: number
  /** …and the oldest were evicted (each asks again). */
  readonly oldestRefetched: number
  readonly bound: number
}

const scopeOf = (i: number) => `bench:scope-${i}`

/**
 * An `HttpClient` answering every token request in process with a new 22-character opaque token: P6
 * measures memory, not the network, and 10,000 token requests over loopback would take minutes here.
 */
const tokenIssuer = () => {
  let requests = 0
  const client = HttpClient.make((request) =>
    Effect.sync(() => {
      requests++
      const body = JSON.stringify({
        access_token: Crypto.randomBytes(16).toString("base64url"),
        token_type: "Bearer",
        expires_in: longTtlSeconds
      })
      return HttpClientResponse.fromWeb(
        request,
        new Response(body, { headers: { "content-type": "application/json", "cache-control": "no-store" } })
      )
    })
  )
  return { client, requests: () => requests }
}

/**
 * P6: heap per cached key with `keys` distinct `getFor` parameter sets, and proof that the default bound
 * (`maxCachedKeys` 1,000) holds: after `boundKeys` sets, the 1,000 most recent are cached and the oldest are not.
 * The provider is core's `TokenProvider.make` with its in-memory store, over an in-process token issuer.
 *
 * @since 0.1.0
 * @category scenarios
 */
export const p6 = async (keys: number, boundKeys: number): Promise<P6Run> => {
  const bound = 1_000
  const getAll = (provider: TokenProvider.Service, indexes: ReadonlyArray<number>) =>
    Effect.forEach(indexes, (i) => provider.getFor({ scope: scopeOf(i) }), { concurrency: 50, discard: true })
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
  const fill = (keys: number, maxCachedKeys: number | undefined) =>
    Effect.gen(function*() {
      const issuer = tokenIssuer()
      const provider = yield* TokenProvider.make({
        tokenUrl: "http://127.0.0.1:9/token",
        clientId,
        clientSecret: Redacted.make(clientSecret),
        ...(maxCachedKeys === undefined ? {} : { maxCachedKeys })
      }).pipe(Effect.provideService(HttpClient.HttpClient, issuer.client))
      yield* provider.get
      const before = heapAfterGc()
      const start = performance.now()
      yield* getAll(provider, range(0, keys))
      const fillMillis = performance.now() - start
      const bytes = heapAfterGc() - before
      return { provider, issuer, bytes, fillMillis }
    })

  // room for every key
  const unbounded = await Effect.runPromise(Effect.scoped(Effect.map(fill(keys, keys), ({ bytes, fillMillis }) => ({
    bytesPerKey: bytes / keys,
    fillMillis
  }))))

  // the floor: a Map of as many tokens
  const before = heapAfterGc()
  const map = new Map<string, { value: string; expiresAt: number }>()
  for (let i = 0; i < keys; i++) {
    map.set(JSON.stringify(["http://127.0.0.1:9/token", clientId, scopeOf(i)]), {
      value: Crypto.randomBytes(16).toString("base64url"),
      expiresAt: Date.now() + 1
    })
  }
  const mapBytesPerKey = (heapAfterGc() - before) / keys
  if (map.size !== keys) throw new Error("unreachable")

  // the default bound
  const bounded = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const { bytes, issuer, provider } = yield* fill(boundKeys, undefined)
    const base = issuer.requests()
    const recent = Math.min(bound, boundKeys)
    yield* getAll(provider, range(boundKeys - recent, boundKeys))
    const recentRefetched = issuer.requests() - base
    const oldest = Math.min(100, Math.max(0, boundKeys - bound))
    yield* getAll(provider, range(0, oldest))
    const oldestRefetched = issuer.requests() - base - recentRefetched
    return { boundedBytesPerKey: bytes / boundKeys, recentRefetched, oldestRefetched }
  })))
  return { keys, boundKeys, bound, ...unbounded, mapBytesPerKey, ...bounded }
}
