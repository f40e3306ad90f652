/**
 * Fleet mode with real processes: worker child processes (`fixtures/worker.ts`), one Redis, one loopback
 * token server. Token lifetimes are 2–3 s so that three expiry windows pass in seconds.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { type Fleet, runFleet, spawnFleet, waitFor, windowsOf } from "./fixtures/fleet.js"
import type { RedisServer } from "./fixtures/redisServer.js"
import { canaryMarker, type TokenServer } from "./fixtures/tokenServer.js"
import { dump, redisServer, tokenServer } from "./utils.js"

const fleet = (processes: number, options: Parameters<typeof spawnFleet>[1]) =>
  Effect.acquireRelease(Effect.promise(() => spawnFleet(processes, options)), (f) => Effect.promise(f.stop))

const waitUntil = (condition: () => boolean, timeoutMillis: number, what: string) =>
  Effect.flatMap(
    Effect.promise(() => waitFor(condition, timeoutMillis)),
    (held) => held ? Effect.void : Effect.dieMessage(`timed out waiting for ${what}`)
  )

const noFailures = (f: Fleet) => {
  for (const worker of f.workers) assert.deepStrictEqual(worker.errors, [], `worker ${worker.pid} had failures`)
}

/** Every token a worker was served was issued by the server (no corrupted or foreign values). */
const servedOnlyIssuedTokens = (f: Fleet, server: TokenServer) => {
  const issued = new Set(server.journal.map((r) => r.token))
  for (const worker of f.workers) for (const { token } of worker.tokens) assert.isTrue(issued.has(token))
}

const noCanaryIn = (redis: RedisServer) =>
  Effect.map(dump(redis), (entries) => {
    assert.isTrue(entries.length > 0)
    for (const [key, value] of entries) {
      assert.notInclude(key, canaryMarker)
      assert.notInclude(value, canaryMarker)
    }
  })

describe("fleet mode", () => {
  it.scopedLive(
    "20 processes, cold start and 3 expiry windows: one token request per window",
    () =>
      Effect.gen(function*() {
        const redis = yield* redisServer
        const server = yield* tokenServer({ expiresIn: 2 })
        const f = yield* fleet(20, { tokenUrl: server.url, redisUrl: redis.url })
        f.go()
        // Refresh every 0.8 × (2000 - 200) = 1440 ms: a gap of 700 ms separates windows.
        yield* waitUntil(() => windowsOf(server.journal.map((r) => r.at), 700).length >= 4, 20_000, "4 windows")
        yield* Effect.sleep("600 millis")
        yield* Effect.promise(f.stop)
        assert.deepStrictEqual(windowsOf(server.journal.map((r) => r.at), 700), [1, 1, 1, 1])
        noFailures(f)
        servedOnlyIssuedTokens(f, server)
        // Every process was served every window's token.
        for (const worker of f.workers) assert.isTrue(worker.tokens.length >= 4, `${worker.tokens.length} tokens`)
        yield* noCanaryIn(redis)
      }),
    60_000
  )

  it.scopedLive(
    "the lock holder is killed mid-fetch: another process takes over within the lock timeout",
    () =>
      Effect.gen(function*() {
        const lockTimeoutMillis = 1500
        const redis = yield* redisServer
        // The first request hangs long enough for its sender to be killed while holding the lock.
        const server = yield* tokenServer({ expiresIn: 60, delayFor: (n) => n === 1 ? 10_000 : 0 })
        const f = yield* fleet(5, { tokenUrl: server.url, redisUrl: redis.url, lockTimeoutMillis })
        f.go()
        yield* waitUntil(() => server.journal.length === 1, 10_000, "the first request")
        const locks = (yield* dump(redis)).filter(([key]) => key.endsWith(":lock"))
        assert.strictEqual(locks.length, 1)
        // The lock's value is `<host>:<pid>:<random>:<n>`: the holder's pid.
        const holder = Number(locks[0][1].split(":")[1])
        assert.isTrue(f.workers.some((w) => w.pid === holder))
        f.kill(holder)
        yield* waitUntil(() => server.journal.length === 2, 2 * lockTimeoutMillis + 2000, "the take-over request")
        const [first, second] = server.journal
        assert.isTrue(second.at - first.at <= lockTimeoutMillis + 1000, `took over after ${second.at - first.at} ms`)
        yield* waitUntil(
          () => f.workers.every((w) => w.pid === holder || w.tokens.some((t) => t.token === second.token)),
          5_000,
          "every survivor served the new token"
        )
        yield* Effect.sleep("300 millis")
        yield* Effect.promise(f.stop)
        assert.strictEqual(server.journal.length, 2)
        noFailures(f)
      }),
    60_000
  )

  it.scopedLive(
    "Redis stops mid-run: nothing fails, one request per process, back to one per window after restart",
    () =>
      Effect.gen(function*() {
        const processes = 10
        const redis = yield* redisServer
        // Refresh every 0.8 × (3000 - 200) = 2240 ms; windows are separated by gaps over 1 s.
        const server = yield* tokenServer({ expiresIn: 3 })
        const f = yield* fleet(processes, { tokenUrl: server.url, redisUrl: redis.url })
        const windows = () => windowsOf(server.journal.map((r) => r.at), 1000)
        f.go()
        yield* waitUntil(() => server.journal.length === 2, 10_000, "cold start and one refresh")
        yield* Effect.sleep("500 millis")
        yield* Effect.promise(redis.stop)
        yield* waitUntil(() => server.journal.length >= 2 + processes, 10_000, "a request per process")
        yield* Effect.sleep("300 millis")
        yield* Effect.promise(redis.start)
        yield* waitUntil(() => windows().length >= 5, 15_000, "two windows after the restart")
        yield* Effect.sleep("600 millis")
        yield* Effect.promise(f.stop)
        assert.deepStrictEqual(windows(), [1, 1, processes, 1, 1])
        noFailures(f)
        servedOnlyIssuedTokens(f, server)
        for (const worker of f.workers) {
          const lost = worker.output.filter((line) => line.includes("Redis is unavailable"))
          const back = worker.output.filter((line) => line.includes("available again"))
          assert.strictEqual(lost.length, 1, `worker ${worker.pid}: ${lost.length} warnings`)
          assert.strictEqual(back.length, 1)
          assert.isTrue(worker.output.every((line) => !line.includes(canaryMarker)))
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
