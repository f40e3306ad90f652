/**
 * The token cache alone, over a lookup that is no grant at all: it knows keys, tokens and time, nothing of
 * HTTP or OAuth parameters.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as AccessToken from "../src/AccessToken.js"
import * as CachePolicy from "../src/internal/cachePolicy.js"
import * as Monotonic from "../src/internal/monotonic.js"
import * as TokenCache from "../src/internal/tokenCache.js"
import { makeMemory } from "../src/internal/tokenStore.js"
import * as TokenError from "../src/TokenError.js"

const policy = CachePolicy.make({
  refreshSkewMillis: 10_000,
  refreshAhead: 1,
  failureCooldownMillis: 1_000,
  maxRetryAfterMillis: 30_000,
  maxKeys: 10
})

const failure = new TokenError.TokenServerError({ status: 503, attempts: 1 })

/** A cache whose lookup mints `<key>-<n>` tokens living 60 s, or fails while `failing` is set. */
const setup = Effect.gen(function*() {
  const calls: Array<string> = []
  const state = { failing: false }
  const lookup = (key: string) =>
    Effect.flatMap(Monotonic.millis, (now) => {
      calls.push(key)
      return state.failing ? Effect.fail(failure) : Effect.succeed(AccessToken.make({
        value: Redacted.make(`${key}-${calls.length}`),
        tokenType: "Bearer",
        issuedAt: now,
        expiresAt: now + 60_000,
        scope: []
      }))
    })
  const cache = yield* TokenCache.make({ store: yield* makeMemory(), policy, lookup })
  return { cache, calls, state }
})

const value = (token: AccessToken.AccessToken) => Redacted.value(token.value)

describe("TokenCache over any lookup", () => {
  it.scoped("1,000 concurrent gets of one key make one lookup; another key its own", () =>
    Effect.gen(function*() {
      const { cache, calls } = yield* setup
      const tokens = yield* Effect.all(Array.from({ length: 1000 }, () => cache.get("a", "a")), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(new Set(tokens.map(value)), new Set(["a-1"]))
      assert.strictEqual(value(yield* cache.get("b", "b")), "b-2")
      assert.deepStrictEqual(calls, ["a", "b"])
    }))

  it.scoped("a failure cools down: answered from memory, then looked up again", () =>
    Effect.gen(function*() {
      const { cache, calls, state } = yield* setup
      state.failing = true
      assert.strictEqual((yield* Effect.flip(cache.get("a", "a")))._tag, "TokenServerError")
      assert.strictEqual((yield* Effect.flip(cache.get("a", "a")))._tag, "TokenServerError")
      assert.strictEqual(calls.length, 1)
      state.failing = false
      yield* TestClock.adjust("1 second")
      assert.strictEqual(value(yield* cache.get("a", "a")), "a-2")
    }))

  it.scoped("stale-on-error: past its serving time, a token that has not expired is served when the lookup fails", () =>
    Effect.gen(function*() {
      const { cache, calls, state } = yield* setup
      assert.strictEqual(value(yield* cache.get("a", "a")), "a-1")
      yield* TestClock.adjust("55 seconds")
      state.failing = true
      const fiber = yield* Effect.fork(cache.get("a", "a"))
      assert.strictEqual(value(yield* Fiber.join(fiber)), "a-1")
      assert.strictEqual(calls.length, 2)
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* Effect.flip(cache.get("a", "a")))._tag, "TokenServerError")
    }))

  it.scoped("refresh looks up whatever is stored", () =>
    Effect.gen(function*() {
      const { cache } = yield* setup
      assert.strictEqual(value(yield* cache.get("a", "a")), "a-1")
      assert.strictEqual(value(yield* cache.refresh("a", "a")), "a-2")
      assert.strictEqual(value(yield* cache.get("a", "a")), "a-2")
    }))
})
