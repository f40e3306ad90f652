import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { AccessToken, TokenProvider } from "@oauth-cc/core"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Crypto from "node:crypto"
import { FakeAuthServer, FakeResponse } from "../src/index.js"

/** `@oauth-cc/core`'s provider, configured for the fake server in the context. */
const providerFor = (options: Partial<Parameters<typeof TokenProvider.layer>[0]> = {}) =>
  Layer.unwrapEffect(Effect.map(FakeAuthServer.FakeAuthServer, (server) =>
    TokenProvider.layer({
      tokenUrl: server.tokenUrl,
      clientId: FakeAuthServer.defaultClient.id,
      clientSecret: Redacted.make(FakeAuthServer.defaultClient.secret),
      ...options
    })))

const callResource = (token: AccessToken.AccessToken) =>
  Effect.gen(function*() {
    const server = yield* FakeAuthServer.FakeAuthServer
    const client = yield* HttpClient.HttpClient
    const response = yield* client.get(server.resourceUrl, {
      headers: { authorization: AccessToken.authorizationHeader(token) }
    })
    return response.status
  })

describe("@oauth-cc/core TokenProvider against the fake server", () => {
  it.effect("in process: caches, refetches after TestClock expiry, waits out a 429", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.FakeAuthServer
      const first = yield* TokenProvider.get
      assert.strictEqual(yield* TokenProvider.get, first)
      assert.strictEqual(yield* server.tokenRequestCount, 1)
      assert.strictEqual(yield* callResource(first), 200)
      // past the token's life: the server rejects it and the provider fetches a new one
      yield* TestClock.adjust("5 minutes")
      assert.strictEqual(yield* callResource(first), 401)
      yield* server.enqueue(FakeResponse.rateLimited({ retryAfter: 2 }))
      const fiber = yield* Effect.fork(TokenProvider.get)
      yield* server.awaitTokenRequests(2)
      yield* TestClock.adjust("2 seconds")
      const second = yield* Fiber.join(fiber)
      assert.notStrictEqual(Redacted.value(second.value), Redacted.value(first.value))
      assert.strictEqual(yield* callResource(second), 200)
      assert.deepStrictEqual((yield* server.requests).filter((r) => r.endpoint === "token").map((r) => r.outcome), [
        200,
        429,
        200
      ])
      assert.strictEqual(yield* server.maxTokenRequestsInFlight, 1)
    }).pipe(Effect.provide(providerFor().pipe(Layer.provideMerge(FakeAuthServer.layerHttpClient())))))

  it.effect("in process: client_secret_post and a rejected secret", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.FakeAuthServer
      const provider = yield* TokenProvider.make({
        tokenUrl: server.tokenUrl,
        clientId: "test-client",
        clientSecret: Redacted.make("wrong"),
        authMethod: "client_secret_post"
      })
      const error = yield* Effect.flip(provider.get)
      assert.strictEqual(error._tag, "TokenRequestRejected")
      assert.strictEqual(error._tag === "TokenRequestRejected" ? error.error : "", "invalid_client")
      assert.strictEqual((yield* server.requests)[0]!.clientAuthMethod, "client_secret_post")
    }).pipe(Effect.scoped, Effect.provide(FakeAuthServer.layerHttpClient())))

  it.effect("in process: private_key_jwt and client_secret_jwt assertions, with the TestClock", () =>
    Effect.gen(function*() {
      const { privateKey, publicKey } = Crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
      const layer = FakeAuthServer.layerHttpClient({ clients: [{ id: "svc", secret: "s3cret", publicKey }] })
      yield* Effect.gen(function*() {
        const server = yield* FakeAuthServer.FakeAuthServer
        const withKey = yield* TokenProvider.make({
          tokenUrl: server.tokenUrl,
          clientId: "svc",
          authMethod: "private_key_jwt",
          clientAssertion: { key: privateKey }
        })
        const withSecret = yield* TokenProvider.make({
          tokenUrl: server.tokenUrl,
          clientId: "svc",
          clientSecret: Redacted.make("s3cret"),
          authMethod: "client_secret_jwt"
        })
        yield* withKey.get
        yield* withSecret.get
        yield* TestClock.adjust("10 minutes")
        yield* withKey.get
        assert.deepStrictEqual((yield* server.requests).map((r) => [r.clientAuthMethod, r.outcome]), [
          ["private_key_jwt", 200],
          ["client_secret_jwt", 200],
          ["private_key_jwt", 200]
        ])
      }).pipe(Effect.scoped, Effect.provide(layer))
    }))

  it.live("over a socket with FetchHttpClient", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.FakeAuthServer
      const token = yield* TokenProvider.get
      assert.strictEqual(token.tokenType, "Bearer")
      assert.strictEqual(yield* callResource(token), 200)
      assert.strictEqual(yield* server.tokenRequestCount, 1)
      assert.strictEqual(yield* server.unauthenticatedResourceRequests, 0)
    }).pipe(
      Effect.provide(
        providerFor({ scope: ["read"] }).pipe(
          Layer.provideMerge(FakeAuthServer.layer({ tokenFormat: "jwt" })),
          Layer.provideMerge(FetchHttpClient.layer)
        )
      )
    ))
})
