import { assert, describe, it } from "@effect/vitest"
import { AccessToken, TokenError, TokenProvider } from "@oauth-cc/core"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { TestTokenProvider } from "../src/index.js"

describe("TestTokenProvider", () => {
  it.effect("a string becomes a Bearer token; calls are counted", () =>
    Effect.gen(function*() {
      const token = yield* TokenProvider.get
      assert.strictEqual(Redacted.value(token.value), "tok-1")
      assert.strictEqual(AccessToken.authorizationHeader(token), "Bearer tok-1")
      assert.isFalse(yield* AccessToken.isExpired(token))
      const provider = yield* TokenProvider.TokenProvider
      yield* provider.getFor({ scope: "a" })
      yield* provider.refresh
      yield* provider.invalidate(token)
      const stub = yield* TestTokenProvider.TestTokenProvider
      assert.strictEqual(yield* stub.calls, 3)
      assert.strictEqual(yield* stub.refreshCalls, 1)
      assert.strictEqual(yield* stub.invalidations, 1)
      assert.deepStrictEqual(yield* stub.getForParams, [{ scope: "a" }])
    }).pipe(Effect.provide(TestTokenProvider.layer("tok-1"))))

  it.effect("an AccessToken is served as is", () => {
    const token = AccessToken.make({ value: "x", issuedAt: 0, expiresAt: 10, scope: ["s"] })
    return Effect.gen(function*() {
      assert.strictEqual(yield* TokenProvider.get, token)
    }).pipe(Effect.provide(TestTokenProvider.layer(token)))
  })

  it.effect("a TokenError fails every call; set changes the answer", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(TokenProvider.get)
      assert.strictEqual(error._tag, "TokenRateLimited")
      const stub = yield* TestTokenProvider.TestTokenProvider
      yield* stub.set("later")
      assert.strictEqual(Redacted.value((yield* TokenProvider.get).value), "later")
      assert.strictEqual(yield* stub.calls, 2)
    }).pipe(Effect.provide(TestTokenProvider.layer(new TokenError.TokenRateLimited({ attempts: 3 })))))
})
