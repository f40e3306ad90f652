import { assert, layer } from "@effect/vitest"
import { NodeTransport } from "@oauth-cc/node-adapter"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose"
import { api, clients, Server } from "../src/OidcProviderServer.js"
import * as OidcProviderServer from "../src/OidcProviderServer.js"
import { against, summary } from "./utils.js"

const Env = Layer.mergeAll(OidcProviderServer.layer, NodeTransport.layer({ proxy: false }).pipe(Layer.orDie))

summary("oidc-provider 9.13.3")

const secret = (value: string) => Redacted.make(value)
const scopeOf = (token: { readonly scope: ReadonlyArray<string> }) => token.scope.join(" ")

layer(Env, { excludeTestServices: true, timeout: "30 seconds" })("oidc-provider 9.13.3", (it) => {
  it.scoped("client_secret_basic: a token with the granted scope echoed", () =>
    Effect.gen(function*() {
      const { grants, result } = yield* against(yield* Server, {
        clientId: clients.basic.id,
        clientSecret: secret(clients.basic.secret),
        scope: "api:read"
      }, (p) => p.get)
      assert.strictEqual(scopeOf(result), "api:read")
      assert.strictEqual(result.expiresAt - result.issuedAt, 300_000)
      assert.strictEqual(grants, 1)
    }))

  it.scoped("client_secret_post: both scopes granted", () =>
    Effect.gen(function*() {
      const { result } = yield* against(yield* Server, {
        clientId: clients.post.id,
        clientSecret: secret(clients.post.secret),
        authMethod: "client_secret_post",
        scope: ["api:write", "api:read"]
      }, (p) => p.get)
      assert.strictEqual(scopeOf(result), "api:read api:write")
    }))

  it.scoped("the JWT access token verifies against the server's JWKS (typ at+jwt, aud, exp; RFC 9068)", () =>
    Effect.gen(function*() {
      const server = yield* Server
      const { result } = yield* against(server, {
        clientId: clients.basic.id,
        clientSecret: secret(clients.basic.secret),
        scope: "api:read"
      }, (p) => p.get)
      const { payload, protectedHeader } = yield* Effect.promise(() =>
        jwtVerify(Redacted.value(result.value), createRemoteJWKSet(new URL(server.jwksUri)), {
          issuer: server.issuer,
          audience: api,
          typ: "at+jwt"
        })
      )
      assert.strictEqual(protectedHeader.alg, "ES256")
      assert.strictEqual(payload.client_id, clients.basic.id)
      assert.strictEqual(payload.exp! - payload.iat!, 300)
      assert.isAtMost(Math.abs(payload.exp! * 1000 - result.expiresAt), 2000)
    }))

  it.scoped("private_key_jwt with ES256 (aud = token endpoint); each request signs a new jti", () =>
    Effect.gen(function*() {
      const { grants, requests, result } = yield* against(yield* Server, {
        clientId: clients.es256.id,
        clientAssertion: { key: clients.es256.key.privateKey, kid: clients.es256.key.kid },
        scope: "api:write"
      }, (p) => Effect.zip(p.get, p.refresh))
      assert.strictEqual(scopeOf(result[0]), "api:write")
      assert.notStrictEqual(Redacted.value(result[0].value), Redacted.value(result[1].value))
      // a replayed jti would have been refused: two requests, two grants
      assert.deepStrictEqual([requests, grants], [2, 2])
    }))

  it.scoped("private_key_jwt with RS256 from a PEM, discovered from the issuer (aud = issuer)", () =>
    Effect.gen(function*() {
      const server = yield* Server
      const pem = clients.rs256.key.privateKey.export({ format: "pem", type: "pkcs8" }) as string
      const { grants, result } = yield* against(server, {
        issuer: server.issuer,
        clientId: clients.rs256.id,
        clientAssertion: { key: Redacted.make(pem), kid: clients.rs256.key.kid },
        scope: "api:read"
      }, (p) => p.get)
      assert.strictEqual(decodeJwt(Redacted.value(result.value)).client_id, clients.rs256.id)
      assert.strictEqual(grants, 1)
      assert.strictEqual(server.lastCredentials(), "form") // the assertion, chosen over the advertised basic
    }))

  it.scoped("client_secret_jwt (HS256)", () =>
    Effect.gen(function*() {
      const { grants } = yield* against(yield* Server, {
        clientId: clients.secretJwt.id,
        clientSecret: secret(clients.secretJwt.secret),
        authMethod: "client_secret_jwt",
        scope: "api:read"
      }, (p) => p.get)
      assert.strictEqual(grants, 1)
    }))

  it.scoped("discovery from the issuer picks the token endpoint and client_secret_basic", () =>
    Effect.gen(function*() {
      const server = yield* Server
      const { grants, requests } = yield* against(server, {
        issuer: server.issuer,
        clientId: clients.basic.id,
        clientSecret: secret(clients.basic.secret)
      }, (p) => p.get)
      assert.deepStrictEqual([requests, grants], [1, 1])
      assert.strictEqual(server.lastCredentials(), "basic")
    }))

  it.scoped("an issuer that differs from the server's (a trailing /) → TokenDiscoveryFailed(IssuerMismatch)", () =>
    Effect.gen(function*() {
      const server = yield* Server
      const { requests, result } = yield* against(server, {
        issuer: `${server.issuer}/`,
        clientId: clients.basic.id,
        clientSecret: secret(clients.basic.secret)
      }, (p) => Effect.flip(p.get))
      assert.strictEqual(result._tag, "TokenDiscoveryFailed")
      assert.strictEqual(result._tag === "TokenDiscoveryFailed" && result.reason, "IssuerMismatch")
      assert.strictEqual(requests, 0)
    }))

  it.scoped("a forbidden scope (admin) → TokenRequestRejected(invalid_scope)", () =>
    Effect.gen(function*() {
      const { result } = yield* against(yield* Server, {
        clientId: clients.basic.id,
        clientSecret: secret(clients.basic.secret),
        scope: "admin"
      }, (p) => Effect.flip(p.get))
      assert.strictEqual(result._tag, "TokenRequestRejected")
      assert.strictEqual(result._tag === "TokenRequestRejected" && result.error, "invalid_scope")
    }))

  it.scoped("an unknown resource → TokenRequestRejected(invalid_target) (RFC 8707)", () =>
    Effect.gen(function*() {
      const { result } = yield* against(yield* Server, {
        clientId: clients.basic.id,
        clientSecret: secret(clients.basic.secret),
        resource: "https://other.example.test"
      }, (p) => Effect.flip(p.get))
      assert.strictEqual(result._tag === "TokenRequestRejected" && result.error, "invalid_target")
    }))

  for (const authMethod of ["client_secret_basic", "client_secret_post"] as const) {
    it.scoped(`a wrong secret (${authMethod}) → invalid_client after exactly one request`, () =>
      Effect.gen(function*() {
        const { grants, requests, result } = yield* against(yield* Server, {
          clientId: clients.basic.id,
          clientSecret: secret("wrong"),
          authMethod
        }, (p) => Effect.flip(p.get))
        assert.strictEqual(result._tag === "TokenRequestRejected" && result.error, "invalid_client")
        assert.strictEqual(result._tag === "TokenRequestRejected" && result.status, 401)
        assert.deepStrictEqual([requests, grants], [1, 0])
      }))
  }

  it.scoped("a secret with % + : & = / @ works with basicEncoding form (the default), not raw", () =>
    Effect.gen(function*() {
      const options = { clientId: clients.special.id, clientSecret: secret(clients.special.secret) }
      const { grants } = yield* against(yield* Server, options, (p) => p.get)
      assert.strictEqual(grants, 1)
      const { result } = yield* against(yield* Server, { ...options, basicEncoding: "raw" }, (p) => Effect.flip(p.get))
      assert.strictEqual(result._tag === "TokenRequestRejected" && result.error, "invalid_request")
    }))

  it.scoped("50 concurrent get → one grant at the server", () =>
    Effect.gen(function*() {
      const { grants, requests, result } = yield* against(yield* Server, {
        clientId: clients.basic.id,
        clientSecret: secret(clients.basic.secret)
      }, (p) => Effect.all(Array.from({ length: 50 }, () => p.get), { concurrency: "unbounded" }))
      assert.strictEqual(new Set(result.map((t) => Redacted.value(t.value))).size, 1)
      assert.deepStrictEqual([requests, grants], [1, 1])
    }))

  it.scoped("429 with Retry-After: 1 in front of the server is waited out", () =>
    Effect.gen(function*() {
      const server = yield* Server
      server.inject([{ status: 429, headers: { "retry-after": "1" }, body: { error: "slow_down" } }])
      const start = Date.now()
      const { grants, requests } = yield* against(server, {
        clientId: clients.basic.id,
        clientSecret: secret(clients.basic.secret)
      }, (p) => p.get)
      assert.isAtLeast(Date.now() - start, 1000)
      assert.deepStrictEqual([requests, grants], [2, 1])
    }))
})
