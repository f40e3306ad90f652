/**
 * Soak: 24 virtual hours of steady callers against the in-process testkit server (TTL 300 s). The token
 * requests must match the refresh schedule (refresh-ahead 0.8 of the usable life, skew 60 s) ±1, and
 * neither the live fibers nor the heap may grow between hour 1 and hour 24.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { TokenProvider } from "@oauth-cc/core"
import { FakeAuthServer } from "@oauth-cc/testkit"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Supervisor from "effect/Supervisor"
import * as V8 from "node:v8"
import * as VM from "node:vm"
import { afterAll } from "vitest"
import * as VirtualClock from "./support/VirtualClock.js"

const hours = Number(process.env.SOAK_HOURS ?? 24)
const callers = 4
const ttlSeconds = 300
const skewSeconds = 60
const refreshAhead = 0.8

/** The refresh period: a background refresh starts at 0.8 of the served life (TTL minus the capped skew). */
const periodSeconds = refreshAhead * (ttlSeconds - Math.min(skewSeconds, ttlSeconds / 2))
const expectedRequests = Math.floor((hours * 3600) / periodSeconds) + 1

/** A full GC: `--expose-gc` if vitest was started with it, else switched on at run time. */
const gc: (() => void) | undefined = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc
  if (exposed !== undefined) return exposed
  try {
    V8.setFlagsFromString("--expose-gc")
    return VM.runInNewContext("gc") as () => void
  } catch {
    return undefined
  }
})()

const heap = () => {
  gc?.()
  gc?.()
  return { used: process.memoryUsage().heapUsed, gc: gc !== undefined }
}

const figures: Array<string> = []
afterAll(() => {
  for (const line of figures) console.log(line)
})

describe("soak", () => {
  it.scoped(
    `${hours} virtual hours, TTL ${ttlSeconds} s, ${callers} callers every virtual second`,
    () =>
      Effect.gen(function*() {
        const vc = VirtualClock.make()
        const supervisor = yield* Supervisor.track
        const server = yield* FakeAuthServer.makeInProcess({ tokenTtl: `${ttlSeconds} seconds` })
        const provider = yield* TokenProvider.make({
          tokenUrl: server.tokenUrl,
          clientId: FakeAuthServer.defaultClient.id,
          clientSecret: Redacted.make(FakeAuthServer.defaultClient.secret),
          refreshSkew: `${skewSeconds} seconds`,
          refreshAhead
        }).pipe(Effect.provideService(HttpClient.HttpClient, server.httpClient))

        let calls = 0
        let failures = 0
        const caller = provider.get.pipe(
          Effect.tapBoth({
            onFailure: () => Effect.sync(() => failures++),
            onSuccess: () => Effect.sync(() => calls++)
          }),
          Effect.ignore,
          Effect.repeat(Schedule.spaced("1 second"))
        )
        for (let i = 0; i < callers; i++) {
          yield* Effect.supervised(Effect.forkScoped(Effect.withClock(caller, vc.clock)), supervisor)
        }

        const started = Date.now()
        let fibersH1 = 0
        let heapH1 = heap()
        for (let hour = 1; hour <= hours; hour++) {
          yield* vc.adjust(3600_000)
          if (hour === 1) {
            fibersH1 = (yield* supervisor.value).length
            heapH1 = heap()
          }
        }
        const fibersEnd = (yield* supervisor.value).length
        const heapEnd = heap()
        const requests = yield* server.tokenRequestCount
        const realSeconds = (Date.now() - started) / 1000

        figures.push(
          `soak: ${hours} virtual hours in ${realSeconds.toFixed(1)} s real, ${calls} get calls, ${requests} token ` +
            `requests (expected ${expectedRequests} ±1), ${failures} failures, fibers h1=${fibersH1} h${hours}=${fibersEnd}, ` +
            `heap h1=${(heapH1.used / 1e6).toFixed(1)} MB h${hours}=${(heapEnd.used / 1e6).toFixed(1)} MB` +
            (heapEnd.gc ? " (after GC)" : " (no --expose-gc)")
        )
        assert.strictEqual(failures, 0)
        assert.isAtLeast(calls, callers * hours * 3600)
        assert.isAtMost(Math.abs(requests - expectedRequests), 1, `${requests} token requests`)
        // the callers, plus at most a refresh under way
        assert.isAtMost(fibersEnd, fibersH1 + 1)
        assert.isAtMost(fibersEnd, callers + 1)
        // after GC the heap stays flat; without GC only a gross leak is caught
        assert.isBelow(heapEnd.used - heapH1.used, heapEnd.gc ? 8e6 : 64e6)
        const issued = yield* server.issued
        const gaps = issued.slice(1).map((t, i) => t.issuedAt - issued[i]!.issuedAt)
        assert.isTrue(gaps.every((gap) => gap === periodSeconds * 1000), "a token every refresh period, exactly")
      }),
    60_000
  )
})
