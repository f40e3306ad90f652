import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, layer } from "@effect/vitest"
import * as AuthorizedHttpClient from "@oauth-cc/core/AuthorizedHttpClient"
import { NodeTransport } from "@oauth-cc/node-adapter"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { clients, Server } from "../src/NodeOauthServer.js"
import * as NodeOauthServer from "../src/NodeOauthServer.js"
import { against, summary } from "./utils.js"

const Env = Layer.mergeAll(NodeOauthServer.layer, NodeTransport.layer({ proxy: false }).pipe(Layer.orDie))

summary("@node-oauth/oauth2-server 5.3.0")

const basic = { clientId: clients.basic.id, clientSecret: Redacted.make(clients.basic.secret) } as const
const scopeOf = (token: { readonly scope: ReadonlyArray<string> }) => token.scope.join(" ")

layer(Env, { excludeTestServices: true, timeout: "30 seconds" })("@node-oauth/oauth2-server 5.3.0", (it) => {
  it.scoped("client_secret_basic: a token with the granted scope echoed", () =>
    Effect.gen(function*() {
      const { grants, result } = yield* against(yield* Server, { ...basic, scope: "api:read" }, (p) => p.get)
      assert.strictEqual(scopeOf(result), "api:read")
      // node-oauth answers expires_in = floor((its stored expiry − now) / 1 s): 300, or 299 when a second
      // boundary passes while it answers
      assert.oneOf(result.expiresAt - result.issuedAt, [299_000, 300_000])
      assert.strictEqual(grants, 1)
    }))

  it.scoped("client_secret_post: both scopes granted", () =>
    Effect.gen(function*() {
      const { result } = yield* against(yield* Server, {
        ...basic,
        authMethod: "client_secret_post",
        scope: "api:write api:read"
      }, (p) => p.get)
      assert.strictEqual(scopeOf(result), "api:read api:write")
    }))

  it.scoped("the model's default scope is reported when none is requested", () =>
    Effect.gen(function*() {
      const { result } = yield* against(yield* Server, basic, (p) => p.get)
      assert.strictEqual(scopeOf(result), "api:read")
    }))

  it.scoped("a forbidden scope (admin) → TokenRequestRejected(invalid_scope)", () =>
    Effect.gen(function*() {
      const { result } = yield* against(yield* Server, { ...basic, scope: "admin" }, (p) => Effect.flip(p.get))
      assert.strictEqual(result._tag === "TokenRequestRejected" && result.error, "invalid_scope")
    }))

  for (const [authMethod, status] of [["client_secret_basic", 401], ["client_secret_post", 400]] as const) {
    it.scoped(`a wrong secret (${authMethod}) → invalid_client (HTTP ${status}) after exactly one request`, () =>
      Effect.gen(function*() {
        const { grants, requests, result } = yield* against(yield* Server, {
          ...basic,
          clientSecret: Redacted.make("wrong"),
          authMethod
        }, (p) => Effect.flip(p.get))
        assert.strictEqual(result._tag === "TokenRequestRejected" && result.error, "invalid_client")
        assert.strictEqual(result._tag === "TokenRequestRejected" && result.status, status)
        assert.deepStrictEqual([requests, grants], [1, 0])
      }))
  }

  it.scoped("a secret with % + : & = / @ works with basicEncoding raw, not form (this server does not decode)", () =>
    Effect.gen(function*() {
      const options = { clientId: clients.special.id, clientSecret: Redacted.make(clients.special.secret) }
      const { grants } = yield* against(yield* Server, { ...options, basicEncoding: "raw" }, (p) => p.get)
      assert.strictEqual(grants, 1)
      const { result } = yield* against(yield* Server, options, (p) => Effect.flip(p.get))
      assert.strictEqual(result._tag === "TokenRequestRejected" && result.error, "invalid_client")
      const post = yield* against(yield* Server, { ...options, authMethod: "client_secret_post" }, (p) => p.get)
      assert.strictEqual(post.grants, 1)
    }))

  it.scoped("an authorized request to the protected resource (its authenticate()) succeeds", () =>
    Effect.gen(function*() {
      const server = yield* Server
      const { grants, result } = yield* against(
        yield* Server,
        { ...basic, scope: "api:read" },
        (provider, client) =>
          Effect.gen(function*() {
            const authorized = AuthorizedHttpClient.authorize(client, provider)
            const first = yield* authorized.get(server.resourceUrl).pipe(
              Effect.flatMap(HttpClientResponse.filterStatusOk),
              Effect.flatMap((r) => r.json)
            )
            const anonymous = yield* client.get(server.resourceUrl)
            return { first, anonymous: anonymous.status }
          })
      )
      assert.deepStrictEqual(result.first, { ok: true, client: clients.basic.id, scope: ["api:read"] })
      assert.strictEqual(result.anonymous, 401)
      assert.strictEqual(grants, 1)
    }))

  it.scoped("discovery against a server without metadata → TokenDiscoveryFailed(NotFound)", () =>
    Effect.gen(function*() {
      const server = yield* Server
      const { requests, result } = yield* against(
        yield* Server,
        { ...basic, issuer: server.base },
        (p) => Effect.flip(p.get)
      )
      assert.strictEqual(result._tag === "TokenDiscoveryFailed" && result.reason, "NotFound")
      assert.strictEqual(requests, 0)
    }))

  it.scoped("50 concurrent get → one grant at the server", () =>
    Effect.gen(function*() {
      const { grants, requests, result } = yield* against(yield* Server, basic, (p) =>
        Effect.all(
          Array.from({ length: 50 }, () => p.get),
          { concurrency: "unbounded" }
        ))
      assert.strictEqual(new Set(result.map((t) => Redacted.value(t.value))).size, 1)
      assert.deepStrictEqual([requests, grants], [1, 1])
    }))

  it.scoped("429 with Retry-After: 1 in front of the server is waited out", () =>
    Effect.gen(function*() {
      const server = yield* Server
      server.inject([{ status: 429, headers: { "retry-after": "1" } }])
      const start = Date.now()
      const { grants, requests } = yield* against(server, basic, (p) => p.get)
      assert.isAtLeast(Date.now() - start, 1000)
      assert.deepStrictEqual([requests, grants], [2, 1])
    }))
})
