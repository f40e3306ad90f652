import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import type * as ClientCredentials from "../src/ClientCredentials.js"
import { parseRetryAfter } from "../src/internal/retryAfter.js"
import * as TokenProvider from "../src/TokenProvider.js"
import * as TokenStore from "../src/TokenStore.js"
import { baseOptions, fakeClient, type Reply, type Seen, tokenBody } from "./utils.js"

const setup = (
  respond: (request: Seen, n: number) => Reply | Effect.Effect<Reply>,
  options: Partial<ClientCredentials.Options> = {}
) =>
  Effect.gen(function*() {
    const fake = fakeClient(respond)
    const provider = yield* TokenProvider.make({ ...baseOptions, retry: { jitter: false }, ...options }).pipe(
      Effect.provideService(HttpClient.HttpClient, fake.client)
    )
    return { provider, seen: fake.seen }
  })

/** Lets forked fibers run up to their next wait (a Clock sleep or a pending answer). */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

const value = (token: { readonly value: Redacted.Redacted<string> }) => Redacted.value(token.value)

describe("TokenProvider", () => {
  describe("cache", () => {
    it.scoped("serves the cached token until expiresAt - skew, then fetches again", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup((_, n) => ({ body: tokenBody(n, { expires_in: 3600 }) }), {
          refreshAhead: 1
        })
        assert.strictEqual(value(yield* provider.get), "tok-1")
        yield* TestClock.adjust("3539 seconds")
        assert.strictEqual(value(yield* provider.get), "tok-1")
        assert.strictEqual(seen.length, 1)
        yield* TestClock.adjust("1 second") // 3540 = 3600 - 60
        assert.strictEqual(value(yield* provider.get), "tok-2")
        assert.strictEqual(seen.length, 2)
      }))

    it.scoped("counts a token's life from when its request was sent, not when the slow answer arrived", () =>
      Effect.gen(function*() {
        const { provider } = yield* setup((_, n) =>
          Effect.as(Effect.sleep("4 seconds"), { body: tokenBody(n, { expires_in: 60 }) })
        )
        const fiber = yield* Effect.fork(provider.get)
        yield* TestClock.adjust("4 seconds")
        const token = yield* Fiber.join(fiber)
        assert.strictEqual(token.issuedAt, 0)
        assert.strictEqual(token.expiresAt, 60_000)
      }))

    it.scoped("caps the skew at half the lifetime, so short-lived tokens are not refetched on every call", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup((_, n) => ({ body: tokenBody(n, { expires_in: 30 }) }), {
          refreshAhead: 1
        })
        yield* provider.get
        yield* TestClock.adjust("14 seconds")
        yield* provider.get
        assert.strictEqual(seen.length, 1)
        yield* TestClock.adjust("1 second") // 15 s = 30 - min(60, 15)
        yield* provider.get
        assert.strictEqual(seen.length, 2)
      }))

    it.scoped("uses defaultExpiresIn when the server sends no expires_in", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup((_, n) => ({ body: { access_token: `t${n}`, token_type: "bearer" } }), {
          defaultExpiresIn: "2 minutes",
          refreshSkew: "10 seconds",
          refreshAhead: 1
        })
        const token = yield* provider.get
        assert.strictEqual(token.expiresAt - token.issuedAt, 120_000)
        assert.strictEqual(token.tokenType, "Bearer")
        yield* TestClock.adjust("109 seconds")
        yield* provider.get
        assert.strictEqual(seen.length, 1)
        yield* TestClock.adjust("1 second")
        yield* provider.get
        assert.strictEqual(seen.length, 2)
      }))
  })

  describe("single-flight", () => {
    it.scoped("10,000 concurrent get on an empty cache make exactly one token request", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup((_, n) => Effect.as(Effect.sleep("100 millis"), { body: tokenBody(n) }))
        const fiber = yield* Effect.fork(
          Effect.all(Array.from({ length: 10_000 }, () => provider.get), { concurrency: "unbounded" })
        )
        yield* TestClock.adjust("100 millis")
        const tokens = yield* Fiber.join(fiber)
        assert.strictEqual(seen.length, 1)
        assert.isTrue(tokens.every((t) => value(t) === "tok-1"))
      }))

    it.scoped("all waiting callers receive the same error", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup(() => ({ status: 401, body: { error: "invalid_client" } }))
        const exits = yield* Effect.all(Array.from({ length: 500 }, () => Effect.exit(provider.get)), {
          concurrency: "unbounded"
        })
        assert.strictEqual(seen.length, 1)
        for (const exit of exits) {
          assert.isTrue(Exit.isFailure(exit))
          if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
            assert.strictEqual(exit.cause.error._tag, "TokenRequestRejected")
          }
        }
      }))

    it.scoped("a caller that stops waiting does not cancel the fetch for the others", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup((_, n) => Effect.as(Effect.sleep("1 second"), { body: tokenBody(n) }))
        const impatient = yield* Effect.fork(provider.get)
        const patient = yield* Effect.fork(provider.get)
        yield* TestClock.adjust("500 millis")
        yield* Fiber.interrupt(impatient)
        yield* TestClock.adjust("500 millis")
        assert.strictEqual(value(yield* Fiber.join(patient)), "tok-1")
        assert.strictEqual(seen.length, 1)
      }))
  })

  describe("refresh-ahead", () => {
    it.scoped("starts one background refresh at 80 % of the usable life; callers never wait", () =>
      Effect.gen(function*() {
        // lifetime 100 s, skew 60 s capped to 50 s: served until 50 s, refresh from 40 s
        const { provider, seen } = yield* setup(
          (_, n) =>
            n === 1 ? { body: tokenBody(n, { expires_in: 100 }) } : Effect.as(Effect.sleep("5 seconds"), {
              body: tokenBody(n, { expires_in: 100 })
            })
        )
        yield* provider.get
        yield* TestClock.adjust("39 seconds")
        yield* provider.get
        assert.strictEqual(seen.length, 1)
        yield* TestClock.adjust("1 second")
        // the refresh is under way (its answer takes 5 s); callers get the current token at once
        const during = yield* Effect.all(Array.from({ length: 100 }, () => provider.get), { concurrency: "unbounded" })
        assert.isTrue(during.every((t) => value(t) === "tok-1"))
        assert.strictEqual(seen.length, 2)
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(value(yield* provider.get), "tok-2")
        assert.strictEqual(seen.length, 2)
      }))

    it.scoped("a failed background refresh keeps the old token until it really expires", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup(
          (_, n) => n === 1 ? { body: tokenBody(n, { expires_in: 100 }) } : { status: 500, body: "down" },
          { retry: { maxAttempts: 1, jitter: false }, failureCooldown: "1 second" }
        )
        yield* provider.get
        yield* TestClock.adjust("45 seconds")
        assert.strictEqual(value(yield* provider.get), "tok-1") // starts the refresh, which fails
        yield* settle
        assert.strictEqual(seen.length, 2)
        yield* TestClock.adjust("10 seconds") // past serveUntil (50 s), before expiresAt (100 s)
        assert.strictEqual(value(yield* provider.get), "tok-1") // stale-on-error: refetch fails, old token served
        assert.strictEqual(seen.length, 3)
        yield* TestClock.adjust("50 seconds") // really expired
        const exit = yield* Effect.exit(provider.get)
        assert.isTrue(Exit.isFailure(exit))
      }))
  })

  describe("retry", () => {
    it.scoped("429 with Retry-After in seconds waits as long as the server asks", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup((_, n) =>
          n === 1 ? { status: 429, headers: { "retry-after": "7" } } : { body: tokenBody(n) }
        )
        const fiber = yield* Effect.fork(provider.get)
        yield* TestClock.adjust("6999 millis")
        assert.strictEqual(seen.length, 1)
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(value(yield* Fiber.join(fiber)), "tok-2")
        assert.strictEqual(seen.length, 2)
      }))

    // RFC 9110 §10.2.3: delta-seconds (digits) or an HTTP-date; anything else is absent and backoff (200 ms) applies
    const notRetryAfter = ["1.5", "2.5", "-1", "+5", "0.5", " 5x", "1e3", "0x10", "5 s", "Infinity", "soon", ""]
    for (const header of notRetryAfter) {
      it.scoped(`429 with Retry-After ${JSON.stringify(header)} is treated as absent: backoff applies`, () =>
        Effect.gen(function*() {
          const { provider, seen } = yield* setup((_, n) =>
            n === 1 ? { status: 429, headers: { "retry-after": header } } : { body: tokenBody(n) }
          )
          const fiber = yield* Effect.fork(provider.get)
          yield* TestClock.adjust("199 millis")
          assert.strictEqual(seen.length, 1, "no retry before the backoff")
          yield* TestClock.adjust("1 millis")
          assert.strictEqual(value(yield* Fiber.join(fiber)), "tok-2")
        }))
    }

    it("Retry-After in every RFC 9110 form: delta-seconds, IMF-fixdate, rfc850-date, asctime-date", () => {
      const now = Date.UTC(1994, 10, 6, 8, 49, 0)
      const forms: ReadonlyArray<readonly [string, number]> = [
        ["0", 0],
        ["37", 37_000],
        [" 37\t", 37_000],
        ["Sun, 06 Nov 1994 08:49:37 GMT", 37_000],
        ["Sunday, 06-Nov-94 08:49:37 GMT", 37_000],
        ["Sun Nov  6 08:49:37 1994", 37_000],
        ["Sun, 06 Nov 1994 08:48:00 GMT", 0]
      ]
      for (const [header, millis] of forms) {
        const parsed = parseRetryAfter(header, now)
        assert.strictEqual(parsed === undefined ? undefined : Duration.toMillis(parsed), millis, header)
      }
      for (const header of [...notRetryAfter, "٣", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 32 Nov 1994 08:49:37 GMT"]) {
        assert.isUndefined(parseRetryAfter(header, now), header)
      }
    })

    it.scoped("503 with Retry-After as an HTTP-date waits until that date", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup((_, n) =>
          n === 1
            ? { status: 503, headers: { "retry-after": new Date(12_000).toUTCString() } }
            : { body: tokenBody(n) }
        )
        const fiber = yield* Effect.fork(provider.get)
        yield* TestClock.adjust("11 seconds")
        assert.strictEqual(seen.length, 1)
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(fiber)
        assert.strictEqual(seen.length, 2)
      }))

    it.scoped("5xx backs off exponentially (200 ms, 400 ms, 800 ms, 1.6 s) and gives up after 5 attempts", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup(() => ({ status: 502, body: "<html>bad gateway</html>" }))
        const fiber = yield* Effect.fork(Effect.either(provider.get))
        const expected = [1, 2, 3, 4, 5]
        const delays = [200, 400, 800, 1600]
        yield* settle
        assert.strictEqual(seen.length, expected[0])
        for (let i = 0; i < delays.length; i++) {
          yield* TestClock.adjust(Duration.millis(delays[i]! - 1))
          assert.strictEqual(seen.length, expected[i])
          yield* TestClock.adjust("1 millis")
          assert.strictEqual(seen.length, expected[i + 1])
        }
        const result = yield* Fiber.join(fiber)
        assert.isTrue(result._tag === "Left")
        if (result._tag === "Left") {
          assert.strictEqual(result.left._tag, "TokenServerError")
          assert.strictEqual((result.left as any).attempts, 5)
          assert.strictEqual((result.left as any).status, 502)
        }
      }))

    it.scoped("a Retry-After beyond maxRetryAfter fails at once with TokenRateLimited", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup(() => ({ status: 429, headers: { "retry-after": "86400" } }))
        const error = yield* Effect.flip(provider.get)
        assert.strictEqual(error._tag, "TokenRateLimited")
        assert.strictEqual(seen.length, 1)
        if (error._tag === "TokenRateLimited") assert.strictEqual(Duration.toSeconds(error.retryAfter!), 86400)
      }))

    it.scoped("400 and 401 RFC errors are terminal: one request, no retry", () =>
      Effect.gen(function*() {
        for (const [status, code] of [[400, "invalid_scope"], [401, "invalid_client"]] as const) {
          const { provider, seen } = yield* setup(() => ({
            status,
            body: { error: code, error_description: "nope", error_uri: "https://docs.example.test/e" }
          }))
          const error = yield* Effect.flip(provider.get)
          assert.strictEqual(seen.length, 1)
          assert.strictEqual(error._tag, "TokenRequestRejected")
          if (error._tag === "TokenRequestRejected") {
            assert.strictEqual(error.error, code)
            assert.strictEqual(error.status, status)
            assert.strictEqual(error.errorDescription, "nope")
            assert.strictEqual(error.errorUri, "https://docs.example.test/e")
            assert.isFalse(error.retryable)
          }
        }
      }))

    it.scoped("a request that never answers times out per attempt and is retried", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup(
          (_, n) => n === 1 ? Effect.never : { body: tokenBody(n) },
          { requestTimeout: "2 seconds" }
        )
        const fiber = yield* Effect.fork(provider.get)
        yield* TestClock.adjust("2 seconds")
        assert.strictEqual(seen.length, 1)
        yield* TestClock.adjust("200 millis")
        assert.strictEqual(value(yield* Fiber.join(fiber)), "tok-2")
      }))

    it.scoped("fails with TokenTransportError(Timeout) when every attempt times out", () =>
      Effect.gen(function*() {
        const { provider } = yield* setup(() => Effect.never, {
          requestTimeout: "1 second",
          retry: { maxAttempts: 2, jitter: false }
        })
        const fiber = yield* Effect.fork(Effect.flip(provider.get))
        yield* TestClock.adjust("10 seconds")
        const error = yield* Fiber.join(fiber)
        assert.strictEqual(error._tag, "TokenTransportError")
        if (error._tag === "TokenTransportError") {
          assert.strictEqual(error.reason, "Timeout")
          assert.strictEqual(error.attempts, 2)
        }
      }))

    it.scoped("the budget counts from the start of the fetch: a hanging server fails by maxElapsed, not after", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup(() => Effect.never, {
          requestTimeout: "10 seconds",
          retry: { maxElapsed: "30 seconds", jitter: false }
        })
        const fiber = yield* Effect.fork(Effect.flip(provider.get))
        yield* TestClock.adjust("29999 millis")
        assert.isNull(fiber.unsafePoll())
        yield* TestClock.adjust("1 millis")
        yield* settle
        const error = yield* Fiber.join(fiber)
        assert.strictEqual(error._tag, "TokenTransportError")
        // attempts at 0, 10.2 and 20.6 s; the third is cut to the 9.4 s left; no fourth
        assert.strictEqual(seen.length, 3)
      }))

    it.scoped("gives up when the time budget (maxElapsed) is spent", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup(() => ({ status: 503, headers: { "retry-after": "10" } }), {
          retry: { maxAttempts: 100, maxElapsed: "25 seconds", jitter: false }
        })
        const fiber = yield* Effect.fork(Effect.flip(provider.get))
        yield* TestClock.adjust("60 seconds")
        const error = yield* Fiber.join(fiber)
        assert.strictEqual(error._tag, "TokenServerError")
        assert.isAtMost(seen.length, 4)
      }))
  })

  describe("failure cooldown", () => {
    it.scoped("calls within the cooldown get the same error without a new request", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup(() => ({ status: 401, body: { error: "invalid_client" } }), {
          failureCooldown: "1 second"
        })
        const first = yield* Effect.flip(provider.get)
        for (let i = 0; i < 1000; i++) {
          const again = yield* Effect.flip(provider.get)
          assert.strictEqual(again, first)
        }
        assert.strictEqual(seen.length, 1)
        yield* TestClock.adjust("1 second")
        yield* Effect.flip(provider.get)
        assert.strictEqual(seen.length, 2)
      }))

    it.scoped("a rate-limited failure cools down for the Retry-After the server sent", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup(() => ({ status: 429, headers: { "retry-after": "20" } }), {
          retry: { maxAttempts: 1 }
        })
        yield* Effect.flip(provider.get)
        yield* TestClock.adjust("19 seconds")
        yield* Effect.flip(provider.get)
        assert.strictEqual(seen.length, 1)
        yield* TestClock.adjust("1 second")
        yield* Effect.flip(provider.get)
        assert.strictEqual(seen.length, 2)
      }))
  })

  describe("refresh and invalidate", () => {
    it.scoped("refresh fetches a new token and caches it", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup((_, n) => ({ body: tokenBody(n) }))
        yield* provider.get
        assert.strictEqual(value(yield* provider.refresh), "tok-2")
        assert.strictEqual(value(yield* provider.get), "tok-2")
        assert.strictEqual(seen.length, 2)
      }))

    it.scoped("invalidate(token) drops the token only while it is still the cached one", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup((_, n) => ({ body: tokenBody(n) }))
        const old = yield* provider.get
        yield* provider.refresh // tok-2 cached
        yield* provider.invalidate(old) // late: a newer token is cached, nothing happens
        assert.strictEqual(value(yield* provider.get), "tok-2")
        assert.strictEqual(seen.length, 2)
        const current = yield* provider.get
        yield* provider.invalidate(current)
        assert.strictEqual(value(yield* provider.get), "tok-3")
        yield* provider.invalidate()
        assert.strictEqual(value(yield* provider.get), "tok-4")
      }))

    it.scoped("invalidate racing a refresh never drops the new token", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup((_, n) => Effect.as(Effect.sleep("1 second"), { body: tokenBody(n) }))
        const f1 = yield* Effect.fork(provider.get)
        yield* TestClock.adjust("1 second")
        const old = yield* Fiber.join(f1)
        const refreshing = yield* Effect.fork(provider.refresh)
        const invalidating = yield* Effect.fork(
          Effect.zipRight(Effect.sleep("1 second"), provider.invalidate(old))
        )
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(refreshing)
        yield* Fiber.join(invalidating)
        assert.strictEqual(value(yield* provider.get), "tok-2")
        assert.strictEqual(seen.length, 2)
      }))
  })

  describe("getFor", () => {
    it.scoped("caches each parameter set under its own normalized key", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup((req, n) => {
          const scope = new URLSearchParams(req.body).get("scope")
          return { body: tokenBody(n, { scope }) }
        })
        const a = yield* provider.getFor({ scope: "b a a" })
        const b = yield* provider.getFor({ scope: ["a", "b"] })
        const c = yield* provider.getFor({ scope: "c" })
        const d = yield* provider.getFor({ scope: "c", audience: "https://api.example.test" })
        assert.strictEqual(value(a), value(b))
        assert.deepStrictEqual(a.scope, ["a", "b"])
        assert.notStrictEqual(value(a), value(c))
        assert.notStrictEqual(value(c), value(d))
        assert.strictEqual(seen.length, 3)
        assert.strictEqual(new URLSearchParams(seen[0]!.body).get("scope"), "a b")
        assert.strictEqual(new URLSearchParams(seen[2]!.body).get("audience"), "https://api.example.test")
      }))

    it.scoped("concurrent callers over 50 parameter sets each get a token for their own parameters", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup((req, n) =>
          Effect.as(Effect.sleep(`${n % 7} millis`), {
            body: tokenBody(n, { scope: new URLSearchParams(req.body).get("scope") })
          })
        )
        const fiber = yield* Effect.fork(Effect.all(
          Array.from(
            { length: 1000 },
            (_, i) => Effect.map(provider.getFor({ scope: `s${i % 50}` }), (t) => [i % 50, t] as const)
          ),
          { concurrency: "unbounded" }
        ))
        yield* TestClock.adjust("10 millis")
        const results = yield* Fiber.join(fiber)
        for (const [k, token] of results) assert.deepStrictEqual(token.scope, [`s${k}`])
        assert.strictEqual(seen.length, 50)
      }))

    it.scoped("keeps at most maxCachedKeys keys, least recently used first out", () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* setup((_, n) => ({ body: tokenBody(n) }), { maxCachedKeys: 3 })
        for (const s of ["a", "b", "c"]) yield* provider.getFor({ scope: s })
        yield* provider.getFor({ scope: "a" }) // a is now the most recently used
        yield* provider.getFor({ scope: "d" }) // evicts b
        assert.strictEqual(seen.length, 4)
        yield* provider.getFor({ scope: "a" })
        yield* provider.getFor({ scope: "c" })
        assert.strictEqual(seen.length, 4)
        yield* provider.getFor({ scope: "b" })
        assert.strictEqual(seen.length, 5)
      }))
  })

  describe("store", () => {
    it.scoped("uses a TokenStore from the context", () =>
      Effect.gen(function*() {
        const fake = fakeClient((_, n) => ({ body: tokenBody(n) }))
        const store = yield* TokenStore.makeMemory()
        const layer = TokenProvider.layer(baseOptions).pipe(
          Layer.provide(Layer.succeed(HttpClient.HttpClient, fake.client)),
          Layer.provide(Layer.succeed(TokenStore.TokenStore, store))
        )
        // two providers over one store: the second finds the first one's token
        yield* Effect.provide(TokenProvider.get, layer)
        yield* Effect.provide(TokenProvider.get, layer)
        assert.strictEqual(fake.seen.length, 1)
      }))
  })
})

describe("TokenProvider with a shared store", () => {
  /** A store that says it is shared and counts its lock uses, over a memory store. */
  const sharedStore = Effect.map(TokenStore.makeMemory(), (memory) => {
    let locks = 0
    const store: TokenStore.Service = {
      ...memory,
      shared: true,
      withFetchLock: (_key, fetch) => Effect.suspend(() => (locks++, fetch))
    }
    return { store, locks: () => locks }
  })

  it.scoped("a token another instance stored is used without a request; refresh still fetches", () =>
    Effect.gen(function*() {
      const { locks, store } = yield* sharedStore
      const fake = fakeClient((_, n) => ({ body: tokenBody(n) }))
      const make = TokenProvider.make(baseOptions).pipe(
        Effect.provideService(HttpClient.HttpClient, fake.client),
        Effect.provideService(TokenStore.TokenStore, store)
      )
      const a = yield* make
      const b = yield* make
      assert.strictEqual(value(yield* a.get), "tok-1")
      assert.strictEqual(value(yield* b.get), "tok-1")
      assert.strictEqual(fake.seen.length, 1)
      assert.strictEqual(value(yield* b.refresh), "tok-2")
      assert.strictEqual(fake.seen.length, 2)
      assert.strictEqual(locks(), 2)
    }))

  it.scoped("extraParams are part of the key: providers differing only in them do not share a token", () =>
    Effect.gen(function*() {
      const { store } = yield* sharedStore
      const fake = fakeClient((_, n) => ({ body: tokenBody(n) }))
      const make = (organization: string) =>
        TokenProvider.make({ ...baseOptions, extraParams: { organization } }).pipe(
          Effect.provideService(HttpClient.HttpClient, fake.client),
          Effect.provideService(TokenStore.TokenStore, store)
        )
      const acme = yield* make("acme")
      const globex = yield* make("globex")
      assert.notStrictEqual(value(yield* acme.get), value(yield* globex.get))
      assert.strictEqual(fake.seen.length, 2)
    }))
})
