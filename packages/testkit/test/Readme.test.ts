// The README's Effect examples, kept runnable.
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { assert, it } from "@effect/vitest"
import { TokenError, TokenProvider } from "@oauth-cc/core"
import { Effect, Fiber, Layer, Redacted, TestClock } from "effect"
import { FakeAuthServer, FakeResponse, TestTokenProvider } from "../src/index.js"

const ProviderTest = Layer.unwrapEffect(Effect.map(FakeAuthServer.FakeAuthServer, (server) =>
  TokenProvider.layer({
    tokenUrl: server.tokenUrl,
    clientId: FakeAuthServer.defaultClient.id,
    clientSecret: Redacted.make(FakeAuthServer.defaultClient.secret)
  }))).pipe(Layer.provideMerge(FakeAuthServer.layer()), Layer.provideMerge(FetchHttpClient.layer))

it.live("README: retries a 503", () =>
  Effect.gen(function*() {
    yield* FakeAuthServer.enqueue(FakeResponse.unavailable({ retryAfter: 0 }))
    yield* TokenProvider.get
    assert.strictEqual(yield* FakeAuthServer.tokenRequestCount, 2)
  }).pipe(Effect.provide(ProviderTest)))

const ProviderInProcess = Layer.unwrapEffect(Effect.map(FakeAuthServer.FakeAuthServer, (server) =>
  TokenProvider.layer({
    tokenUrl: server.tokenUrl,
    clientId: "test-client",
    clientSecret: Redacted.make("test-secret")
  }))).pipe(Layer.provideMerge(FakeAuthServer.layerHttpClient()))

it.effect("README: waits out Retry-After on the TestClock", () =>
  Effect.gen(function*() {
    const server = yield* FakeAuthServer.FakeAuthServer
    yield* server.enqueue(FakeResponse.rateLimited({ retryAfter: 2 }))
    const fiber = yield* Effect.fork(TokenProvider.get)
    yield* server.awaitTokenRequests(1)
    yield* TestClock.adjust("2 seconds")
    yield* Fiber.join(fiber)
    assert.strictEqual(yield* server.tokenRequestCount, 2)
  }).pipe(Effect.provide(ProviderInProcess)))

it.effect("README: TestTokenProvider", () =>
  Effect.gen(function*() {
    yield* TokenProvider.get
    const stub = yield* TestTokenProvider.TestTokenProvider
    assert.strictEqual(yield* stub.calls, 1)
    yield* stub.set(new TokenError.TokenRequestRejected({ error: "invalid_client", status: 401 }))
    assert.strictEqual((yield* Effect.flip(TokenProvider.get))._tag, "TokenRequestRejected")
  }).pipe(Effect.provide(TestTokenProvider.layer("tok"))))
