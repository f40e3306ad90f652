/**
 * Concurrency: single flight under 10,000 callers while the server fails transiently, every `getFor`
 * caller receives a token for its own parameters (checked in the JWT the server signed), and an
 * `invalidate(old)` racing a refresh never drops the new token.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { TokenProvider } from "@oauth-cc/core"
import { FakeAuthServer, FakeResponse } from "@oauth-cc/testkit"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Jose from "jose"
import { afterAll } from "vitest"
import { baseOptions, serverOptions, socketClient } from "./support/matrix.js"

const figures: Array<string> = []
afterAll(() => {
  for (const line of figures) console.log(line)
})

const value = (t: { readonly value: Redacted.Redacted<string> }) => Redacted.value(t.value)

describe("concurrency", () => {
  it.scoped("10,000 concurrent get while the server fails transiently: one request in flight at a time", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.makeInProcess(serverOptions)
      yield* server.enqueue(
        FakeResponse.delay("100 millis", FakeResponse.unavailable()),
        FakeResponse.delay("100 millis", FakeResponse.serverError({ status: 502 })),
        FakeResponse.delay("100 millis", FakeResponse.resetConnection()),
        FakeResponse.delay("100 millis")
      )
      const provider = yield* TokenProvider.make(baseOptions(server.tokenUrl, "virtual")).pipe(
        Effect.provideService(HttpClient.HttpClient, server.httpClient)
      )
      const fiber = yield* Effect.fork(
        Effect.all(Array.from({ length: 10_000 }, () => provider.get), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust("10 seconds")
      const tokens = yield* Fiber.join(fiber)
      const requests = yield* server.tokenRequests
      const maxInFlight = yield* server.maxTokenRequestsInFlight
      figures.push(
        `concurrency: 10,000 concurrent get over 3 transient failures → ${requests.length} token requests, ` +
          `max ${maxInFlight} in flight`
      )
      assert.strictEqual(requests.length, 4)
      assert.strictEqual(maxInFlight, 1)
      // the journal: each request arrived after the previous one's answer (100 ms) and backoff
      const times = requests.map((r) => r.time)
      for (let i = 1; i < times.length; i++) assert.isAtLeast(times[i]! - times[i - 1]!, 100 + 200)
      assert.strictEqual(new Set(tokens.map(value)).size, 1)
    }))

  it.scopedLive(
    "1,000 concurrent getFor over 50 parameter sets: each caller gets its own scope and aud",
    () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make({
          ...serverOptions,
          tokenFormat: "jwt",
          clients: [{ ...serverOptions.clients![0]!, scopes: undefined }]
        })
        // 50 JWTs signed at once can take more than the matrix's 1 s per attempt on a busy machine
        const provider = yield* TokenProvider.make({
          ...baseOptions(server.tokenUrl, "socket"),
          requestTimeout: "20 seconds"
        })
          .pipe(Effect.provideService(HttpClient.HttpClient, yield* socketClient("undici")))
        const sets = Array.from({ length: 50 }, (_, i) => ({
          scope: [`read:${i % 10}`, `write:${i % 7}`, ...(i % 3 === 0 ? ["admin"] : [])],
          audience: `https://api-${i}.example.test`
        }))
        const results = yield* Effect.forEach(
          Array.from({ length: 1000 }, (_, i) => i),
          (i) => Effect.map(provider.getFor(sets[(i * 7) % 50]!), (token) => [(i * 7) % 50, token] as const),
          { concurrency: "unbounded" }
        )
        let checked = 0
        for (const [set, token] of results) {
          const claims = Jose.decodeJwt(value(token))
          assert.deepStrictEqual(String(claims.scope).split(" ").sort(), [...sets[set]!.scope].sort(), `set ${set}`)
          assert.strictEqual(claims.aud, sets[set]!.audience, `set ${set}`)
          checked++
        }
        const requests = yield* server.tokenRequestCount
        figures.push(
          `concurrency: 1,000 concurrent getFor over 50 parameter sets → ${checked} JWTs checked, ` +
            `0 mismatches, ${requests} token requests`
        )
        assert.strictEqual(requests, 50)
      }),
    60_000
  )

  it.scoped("invalidate(old) racing a refresh never drops the new token", () =>
    Effect.gen(function*() {
      // the refresh takes 100 ms; invalidate(old) lands before, during, just at and after its end
      for (const at of [0, 1, 50, 99, 100, 101, 150]) {
        const server = yield* FakeAuthServer.makeInProcess(serverOptions)
        const provider = yield* TokenProvider.make(baseOptions(server.tokenUrl, "virtual")).pipe(
          Effect.provideService(HttpClient.HttpClient, server.httpClient)
        )
        const old = yield* provider.get
        yield* server.enqueue(FakeResponse.delay("100 millis"))
        const refresh = yield* Effect.fork(provider.refresh)
        const invalidate = yield* Effect.fork(Effect.zipRight(Effect.sleep(`${at} millis`), provider.invalidate(old)))
        yield* TestClock.adjust("200 millis")
        const fresh = yield* Fiber.join(refresh)
        yield* Fiber.join(invalidate)
        assert.notStrictEqual(value(fresh), value(old))
        const served = yield* provider.get
        assert.strictEqual(value(served), value(fresh), `invalidate at ${at} ms`)
        assert.strictEqual(yield* server.tokenRequestCount, 2, `invalidate at ${at} ms: no extra request`)
      }
    }))
})
