/**
 * Fleet mode with real processes: worker child processes (`fixtures/worker.ts`), one Redis, one
 * `@oauth-cc/testkit` fake authorization server on loopback. Token lifetimes are 2–3 s so that three
 * expiry windows pass in seconds.
 */
import { assert, describe, it } from "@effect/vitest"
import { FakeResponse } from "@oauth-cc/testkit"
import type { FakeAuthServer } from "@oauth-cc/testkit"
import * as Effect from "effect/Effect"
import { type Fleet, requestTimes, runFleet, spawnFleet, waitFor, windowsOf } from "./fixtures/fleet.js"
import { authServer, dump, issuedValues, redisServer } from "./utils.js"

const fleet = (processes: number, options: Parameters<typeof spawnFleet>[1]) =>
  Effect.acquireRelease(Effect.promise(() => spawnFleet(processes, options)), (f) => Effect.promise(f.stop))

const waitUntil = (condition: () => boolean | Promise<boolean>, timeoutMillis: number, what: string) =>
  Effect.flatMap(
    Effect.promise(() => waitFor(condition, timeoutMillis)),
    (held) => held ? Effect.void : Effect.dieMessage(`timed out waiting for ${what}`)
  )

/** Token requests grouped into windows: a gap of `gapMillis` separates two. */
const windowsAt = (server: FakeAuthServer.Handle, gapMillis: number) =>
  Effect.promise(async () => windowsOf(await requestTimes(server), gapMillis))

const noFailures = (f: Fleet) => {
  for (const worker of f.workers) assert.deepStrictEqual(worker.errors, [], `worker ${worker.pid} had failures`)
}

/** Every token a worker was served was issued by the server (no corrupted or foreign values). */
const servedOnlyIssuedTokens = (f: Fleet, server: FakeAuthServer.Handle) =>
  Effect.map(issuedValues(server), (values) => {
    const issued = new Set(values)
    for (const worker of f.workers) for (const { token } of worker.tokens) assert.isTrue(issued.has(token))
  })

/**
 * `redis-cli --scan` + `GET` (`entries`, taken while the fleet runs: the keys expire with their 2 s tokens,
 * sooner than a busy machine stops 20 processes): no issued token appears in any key or value.
 */
const noTokenIn = (entries: ReadonlyArray<readonly [string, string]>, server: FakeAuthServer.Handle) =>
  Effect.gen(function*() {
    const tokens = yield* issuedValues(server)
    assert.isTrue(entries.length > 0 && tokens.length > 0)
    for (const [key, value] of entries) {
      for (const token of tokens) {
        assert.notInclude(key, token)
        assert.notInclude(value, token)
      }
    }
  })

describe("fleet mode", () => {
  it.scopedLive(
    "20 processes, cold start and 3 expiry windows: one token request per window",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const server = yield* authServer({ tokenTtl: "2 seconds" })
        const f = yield* fleet(20, { tokenUrl: server.tokenUrl, redisUrl: redis.url })
        f.go()
        // Refresh every 0.8 × (2000 - 200) = 1440 ms: a gap of 700 ms separates windows.
        yield* waitUntil(
          async () => windowsOf(await requestTimes(server), 700).length >= 4,
          20_000,
          "4 windows"
        )
        const entries = yield* dump(redis)
        yield* Effect.sleep("600 millis")
        yield* Effect.promise(f.stop)
        // One request per window; a busy machine may fit a fifth window in before the fleet stops.
        const windows = yield* windowsAt(server, 700)
        assert.isAtLeast(windows.length, 4)
        assert.deepStrictEqual(windows, windows.map(() => 1))
        noFailures(f)
        yield* servedOnlyIssuedTokens(f, server)
        // Every process was served every window's token.
        for (const worker of f.workers) assert.isTrue(worker.tokens.length >= 4, `${worker.tokens.length} tokens`)
        yield* noTokenIn(entries, server)
      }),
    60_000
  )

  it.scopedLive(
    "the lock holder is killed mid-fetch: another process takes over within the lock timeout",
    () =>
      Effect.gen(function*() {
        const lockTimeoutMillis = 1500
        const redis = yield* redisServer
        const server = yield* authServer({ tokenTtl: "60 seconds" })
        // The first request hangs long enough for its sender to be killed while holding the lock.
        yield* Effect.promise(() => server.enqueue(FakeResponse.delay("10 seconds")))
        const f = yield* fleet(5, { tokenUrl: server.tokenUrl, redisUrl: redis.url, lockTimeoutMillis })
        f.go()
        yield* waitUntil(async () => (await server.tokenRequestCount()) === 1, 10_000, "the first request")
        const firstAt = Date.now()
        const locks = (yield* dump(redis)).filter(([key]) => key.endsWith(":lock"))
        assert.strictEqual(locks.length, 1)
        // The lock's value is `<host>:<pid>:<random>:<n>`: the holder's pid.
        const holder = Number(locks[0][1].split(":")[1])
        assert.isTrue(f.workers.some((w) => w.pid === holder))
        f.kill(holder)
        yield* waitUntil(
          async () => (await server.tokenRequestCount()) === 2,
          2 * lockTimeoutMillis + 2000,
          "the take-over request"
        )
        const tookOver = Date.now() - firstAt
        assert.isTrue(tookOver <= lockTimeoutMillis + 1000, `took over after ${tookOver} ms`)
        const survivors = f.workers.filter((w) => w.pid !== holder)
        yield* waitUntil(() => survivors.every((w) => w.tokens.length > 0), 5_000, "every survivor served a token")
        yield* Effect.sleep("300 millis")
        yield* Effect.promise(f.stop)
        assert.strictEqual(yield* Effect.promise(server.tokenRequestCount), 2)
        assert.strictEqual(new Set(survivors.flatMap((w) => w.tokens.map((t) => t.token))).size, 1)
        noFailures(f)
        yield* servedOnlyIssuedTokens(f, server)
      }),
    60_000
  )

  it.scopedLive(
    "Redis stops mid-run: nothing fails, one request per process, back to one per window after restart",
    () =>
      Effect.gen(function*() {
        const processes = 10
        const redis = yield* redisServer
        // Refresh every 0.8 × (5000 - 200) = 3840 ms: long enough for a reconnect (≤ 1 s) even when a loaded
        // machine spreads the processes' own fetches during the outage over a second or two.
        const server = yield* authServer({ tokenTtl: "5 seconds" })
        const f = yield* fleet(processes, { tokenUrl: server.tokenUrl, redisUrl: redis.url })
        const count = () => server.tokenRequestCount()
        f.go()
        const windows = () => Effect.runPromise(windowsAt(server, 1900))
        yield* waitUntil(async () => (await count()) === 2, 10_000, "cold start and one refresh")
        // Every process holds the second window's token before Redis goes away.
        yield* waitUntil(
          async () => {
            const issued = await Effect.runPromise(issuedValues(server))
            return issued.length === 2 && f.workers.every((w) => w.tokens.some((t) => t.token === issued[1]))
          },
          5_000,
          "every process served the second token"
        )
        yield* Effect.promise(redis.stop)
        yield* waitUntil(async () => (await count()) >= 2 + processes, 10_000, "a request per process")
        yield* Effect.sleep("300 millis")
        yield* Effect.promise(redis.start)
        const atRestart = (yield* Effect.promise(windows)).length
        yield* waitUntil(async () => (await windows()).length >= atRestart + 2, 15_000, "two windows after the restart")
        yield* Effect.sleep("600 millis")
        yield* Effect.promise(f.stop)
        assert.deepStrictEqual(yield* windowsAt(server, 1900), [1, 1, processes, 1, 1])
        noFailures(f)
        yield* servedOnlyIssuedTokens(f, server)
        const tokens = yield* issuedValues(server)
        for (const worker of f.workers) {
          const lost = worker.output.filter((line) => line.includes("Redis is unavailable"))
          const back = worker.output.filter((line) => line.includes("available again"))
          assert.strictEqual(lost.length, 1, `worker ${worker.pid}: ${lost.length} warnings`)
          assert.strictEqual(back.length, 1)
          for (const token of tokens) assert.isTrue(worker.output.every((line) => !line.includes(token)))
        }
      }),
    60_000
  )

  it.live("P7 helper: without the store every process fetches in every window", () =>
    Effect.gen(function*() {
      const result = yield* Effect.promise(() => runFleet({ processes: 4, store: false, windows: 1 }))
      assert.deepStrictEqual(result.requestsPerWindow, [4, 4])
      assert.strictEqual(result.failures, 0)
      assert.isTrue(result.gets > 0 && result.warmLatencyMicros.p99 > 0)
    }), 60_000)
})
