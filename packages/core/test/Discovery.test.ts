import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { decodeJwt, decodeProtectedHeader } from "jose"
import { generateKeyPairSync } from "node:crypto"
import * as ClientCredentials from "../src/ClientCredentials.js"
import * as Discovery from "../src/Discovery.js"
import * as TokenError from "../src/TokenError.js"
import * as TokenProvider from "../src/TokenProvider.js"
import { canarySecret, fakeClient, type Reply, type Seen, tokenBody } from "./utils.js"

const issuer = "https://auth.example.test/tenant1"
const tokenUrl = "https://auth.example.test/tenant1/oauth2/token"
const rfc8414 = "https://auth.example.test/.well-known/oauth-authorization-server/tenant1"
const oidc = "https://auth.example.test/tenant1/.well-known/openid-configuration"

const metadata = (extra: object = {}) => ({
  issuer,
  token_endpoint: tokenUrl,
  token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "private_key_jwt"],
  ...extra
})

/** A server with metadata at `at` (the other well-known URL answers 404) and a token endpoint. */
const server = (
  at: string,
  document: Reply | ((n: number) => Reply) = { body: metadata() }
) => {
  let documents = 0
  return (seen: Seen, n: number): Reply => {
    if (seen.url === at) return typeof document === "function" ? document(++documents) : document
    if (seen.url.includes("/.well-known/")) return { status: 404, body: "not here" }
    if (seen.url === tokenUrl) return { body: tokenBody(n) }
    return { status: 404 }
  }
}

const secretOptions = { issuer, clientId: "client-1", clientSecret: Redacted.make(canarySecret) } as const

const provide = (options: ClientCredentials.Options, respond: (seen: Seen, n: number) => Reply) =>
  Effect.gen(function*() {
    const fake = fakeClient(respond)
    const provider = yield* TokenProvider.make({ retry: { jitter: false }, ...options }).pipe(
      Effect.provideService(HttpClient.HttpClient, fake.client)
    )
    return { provider, seen: fake.seen }
  })

const urls = (seen: ReadonlyArray<Seen>) => seen.map((s) => `${s.method} ${s.url}`)

describe("Discovery.metadataUrls (RFC 8414 §3.1)", () => {
  it("inserts the well-known segment before the issuer's path, and appends the OIDC one", () => {
    assert.deepStrictEqual(Discovery.metadataUrls(issuer).map(String), [rfc8414, oidc])
    assert.deepStrictEqual(Discovery.metadataUrls("https://a.test/realms/x/").map(String), [
      "https://a.test/.well-known/oauth-authorization-server/realms/x",
      "https://a.test/realms/x/.well-known/openid-configuration"
    ])
    assert.deepStrictEqual(Discovery.metadataUrls("http://127.0.0.1:8080").map(String), [
      "http://127.0.0.1:8080/.well-known/oauth-authorization-server",
      "http://127.0.0.1:8080/.well-known/openid-configuration"
    ])
  })
})

describe("TokenProvider with issuer", () => {
  it.scoped("discovers the token endpoint on the first fetch, once for the provider's life", () =>
    Effect.gen(function*() {
      const { provider, seen } = yield* provide(secretOptions, server(rfc8414))
      assert.strictEqual(seen.length, 0) // make does not block on discovery
      yield* provider.get
      yield* provider.refresh
      yield* provider.getFor({ scope: "other" })
      assert.deepStrictEqual(urls(seen), [
        `GET ${rfc8414}`,
        `POST ${tokenUrl}`,
        `POST ${tokenUrl}`,
        `POST ${tokenUrl}`
      ])
      assert.match(seen[1]!.headers["authorization"]!, /^Basic /)
    }))

  it.scoped("falls back to /.well-known/openid-configuration", () =>
    Effect.gen(function*() {
      const { provider, seen } = yield* provide(secretOptions, server(oidc))
      yield* provider.get
      assert.deepStrictEqual(urls(seen), [`GET ${rfc8414}`, `GET ${oidc}`, `POST ${tokenUrl}`])
    }))

  it.scoped("50 concurrent fetches over different parameters share one discovery", () =>
    Effect.gen(function*() {
      const respond = server(rfc8414)
      const { provider, seen } = yield* provide(
        secretOptions,
        (s, n) => s.method === "GET" ? Effect.as(Effect.sleep("50 millis"), respond(s, n)) as any : respond(s, n)
      )
      const fiber = yield* Effect.fork(
        Effect.all(Array.from({ length: 50 }, (_, i) => provider.getFor({ scope: `s${i}` })), {
          concurrency: "unbounded"
        })
      )
      yield* TestClock.adjust("50 millis")
      yield* Fiber.join(fiber)
      assert.strictEqual(seen.filter((s) => s.method === "GET").length, 1)
      assert.strictEqual(seen.filter((s) => s.method === "POST").length, 50)
    }))

  it.scoped("retries the metadata request under the token retry policy (503 with Retry-After)", () =>
    Effect.gen(function*() {
      const { provider, seen } = yield* provide(
        secretOptions,
        server(rfc8414, (n) => n === 1 ? { status: 503, headers: { "retry-after": "3" } } : { body: metadata() })
      )
      const fiber = yield* Effect.fork(provider.get)
      yield* TestClock.adjust("2999 millis")
      assert.strictEqual(seen.length, 1)
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(urls(seen), [`GET ${rfc8414}`, `GET ${rfc8414}`, `POST ${tokenUrl}`])
    }))

  it.scoped("a failed metadata request is worded as a metadata request, never as a token request", () =>
    Effect.gen(function*() {
      const { provider } = yield* provide(
        { ...secretOptions, retry: { maxAttempts: 1 } },
        server(rfc8414, { status: 503 })
      )
      const unavailable = yield* Effect.flip(provider.get)
      assert.include(unavailable.message, "metadata endpoint server error (HTTP 503) after 1 attempt")
      assert.notInclude(unavailable.message, "token endpoint")
      const refused = HttpClient.make((request) =>
        Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause: new Error("refused") }))
      )
      const unreachable = yield* TokenProvider.make({ ...secretOptions, retry: { maxAttempts: 1 } }).pipe(
        Effect.provideService(HttpClient.HttpClient, refused),
        Effect.flatMap((provider) => Effect.flip(provider.get))
      )
      assert.strictEqual(unreachable._tag, "TokenDiscoveryFailed")
      assert.include(unreachable.message, "metadata request failed after 1 attempt: Transport: refused")
      assert.notInclude(unreachable.message, "token request")
    }))

  it.scoped("a failed discovery is not kept: the next fetch after the cooldown tries again", () =>
    Effect.gen(function*() {
      const { provider, seen } = yield* provide(
        { ...secretOptions, retry: { maxAttempts: 1 }, failureCooldown: "1 second" },
        server(rfc8414, (n) => n === 1 ? { status: 500 } : { body: metadata() })
      )
      const error = yield* Effect.flip(provider.get)
      assert.strictEqual(error._tag, "TokenDiscoveryFailed")
      if (error._tag === "TokenDiscoveryFailed") {
        assert.strictEqual(error.reason, "Unreachable")
        assert.isTrue(error.retryable)
        assert.strictEqual(error.attempts, 1)
        assert.strictEqual(TokenError.exitCode(error), 8)
      }
      yield* TestClock.adjust("1 second")
      yield* provider.get
      assert.deepStrictEqual(urls(seen), [`GET ${rfc8414}`, `GET ${rfc8414}`, `POST ${tokenUrl}`])
    }))

  const failures: ReadonlyArray<[string, Reply, TokenError.TokenDiscoveryFailed["reason"], string]> = [
    ["an issuer that differs", { body: metadata({ issuer: `${issuer}/` }) }, "IssuerMismatch", `"${issuer}/"`],
    [
      "an http token endpoint on a public host",
      {
        body: metadata({ token_endpoint: "http://auth.example.test/token" })
      },
      "InsecureTokenEndpoint",
      "https"
    ],
    [
      "an https issuer naming an http token endpoint on loopback (a downgrade)",
      { body: metadata({ token_endpoint: "http://127.0.0.1:8080/token" }) },
      "InsecureTokenEndpoint",
      "the issuer is https"
    ],
    ["a document that is not JSON", { body: "<html/>" }, "InvalidMetadata", "not JSON"],
    ["a document without token_endpoint", { body: { issuer } }, "InvalidMetadata", "token_endpoint"],
    ["no document at either URL", { status: 404 }, "NotFound", "404"],
    [
      "no method that fits a secret",
      {
        body: metadata({ token_endpoint_auth_methods_supported: ["private_key_jwt", "tls_client_auth"] })
      },
      "NoSupportedAuthMethod",
      "private_key_jwt, tls_client_auth"
    ]
  ]
  for (const [name, document, reason, detail] of failures) {
    it.scoped(`${name} → TokenDiscoveryFailed(${reason}), no token request`, () =>
      Effect.gen(function*() {
        const { provider, seen } = yield* provide(secretOptions, server(rfc8414, document))
        const error = yield* Effect.flip(provider.get)
        assert.strictEqual(error._tag, "TokenDiscoveryFailed")
        if (error._tag === "TokenDiscoveryFailed") {
          assert.strictEqual(error.reason, reason)
          assert.strictEqual(error.issuer, issuer)
          assert.include(error.message, detail)
          assert.isFalse(error.retryable)
        }
        assert.isFalse(seen.some((s) => s.method === "POST"))
      }))
  }

  const choices: ReadonlyArray<[string, ReadonlyArray<string> | undefined, boolean, string]> = [
    ["client_secret_basic when the list is absent (RFC 8414 §2 default)", undefined, false, "client_secret_basic"],
    ["client_secret_post when it is the only secret method", ["client_secret_post"], false, "client_secret_post"],
    ["client_secret_jwt when it is the only one", ["client_secret_jwt", "none"], false, "client_secret_jwt"],
    ["private_key_jwt when a key is configured", ["client_secret_basic", "private_key_jwt"], true, "private_key_jwt"]
  ]
  for (const [name, supported, hasKey, expected] of choices) {
    it(`chooses ${name}`, () => {
      assert.strictEqual(Discovery.chooseAuthMethod(supported, { hasKey, hasSecret: true }), expected)
    })
  }

  it.scoped("with a key: private_key_jwt against the discovered endpoint, aud = the issuer", () =>
    Effect.gen(function*() {
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" })
      const { provider, seen } = yield* provide(
        { issuer, clientId: "client-1", clientAssertion: { key: privateKey } },
        server(rfc8414)
      )
      yield* provider.get
      const claims = decodeJwt(new URLSearchParams(seen[1]!.body).get("client_assertion")!)
      assert.strictEqual(claims.aud, issuer)
      assert.strictEqual(seen[1]!.url, tokenUrl)
    }))

  it.scoped("RFC 7523bis: typ client-authentication+jwt, aud the issuer; audience token_endpoint keeps the URL", () =>
    Effect.gen(function*() {
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" })
      for (const [audience, expected] of [[undefined, issuer], ["issuer", issuer], ["token_endpoint", tokenUrl]]) {
        const { provider, seen } = yield* provide(
          { issuer, clientId: "client-1", clientAssertion: { key: privateKey, audience } },
          server(rfc8414)
        )
        yield* provider.get
        const jwt = new URLSearchParams(seen[1]!.body).get("client_assertion")!
        assert.strictEqual(decodeJwt(jwt).aud, expected, String(audience))
        assert.strictEqual(decodeProtectedHeader(jwt).typ, "client-authentication+jwt")
      }
    }))

  it.scoped("an explicit authMethod is kept whatever the server lists", () =>
    Effect.gen(function*() {
      const { provider, seen } = yield* provide(
        { ...secretOptions, authMethod: "client_secret_post" },
        server(rfc8414, { body: metadata({ token_endpoint_auth_methods_supported: ["client_secret_basic"] }) })
      )
      yield* provider.get
      assert.strictEqual(new URLSearchParams(seen[1]!.body).get("client_id"), "client-1")
    }))

  it.effect("Discovery.discover returns the checked metadata", () =>
    Effect.gen(function*() {
      const fake = fakeClient(server(oidc, { body: metadata({ jwks_uri: "https://auth.example.test/jwks" }) }))
      const found = yield* Discovery.discover(issuer).pipe(Effect.provideService(HttpClient.HttpClient, fake.client))
      assert.strictEqual(found.token_endpoint, tokenUrl)
      assert.strictEqual(found.jwks_uri, "https://auth.example.test/jwks")
    }))
})

describe("issuer options", () => {
  const env = (vars: Record<string, string>) =>
    ConfigProvider.fromMap(new Map(Object.entries({ OAUTH_CLIENT_ID: "svc", OAUTH_CLIENT_SECRET: "x", ...vars })), {
      pathDelim: "_"
    })
  const load = (vars: Record<string, string>) =>
    Effect.either(Effect.withConfigProvider(ClientCredentials.config(), env(vars)))

  it.effect("OAUTH_ISSUER replaces OAUTH_TOKEN_URL; exactly one of them", () =>
    Effect.gen(function*() {
      const ok = yield* load({ OAUTH_ISSUER: issuer })
      assert.strictEqual(Either.getOrThrow(ok).issuer, issuer)
      const both = yield* load({ OAUTH_ISSUER: issuer, OAUTH_TOKEN_URL: tokenUrl })
      assert.isTrue(Either.isLeft(both))
      if (Either.isLeft(both)) assert.include(String(both.left), "exactly one of OAUTH_TOKEN_URL and OAUTH_ISSUER")
      const neither = yield* load({})
      assert.isTrue(Either.isLeft(neither))
      if (Either.isLeft(neither)) {
        assert.include(
          String(neither.left),
          "OAUTH.TOKEN_URL: \"Expected OAUTH_TOKEN_URL (the token endpoint) or OAUTH_ISSUER"
        )
      }
      const insecure = yield* load({ OAUTH_ISSUER: "http://auth.example.test" })
      assert.isTrue(Either.isLeft(insecure))
    }))

  const invalid: ReadonlyArray<[string, Partial<ClientCredentials.Options>, string]> = [
    ["both tokenUrl and issuer", { tokenUrl, issuer }, "exactly one"],
    ["neither tokenUrl nor issuer", { issuer: undefined }, "exactly one"],
    ["an issuer with a query", { issuer: `${issuer}?tenant=1` }, "query"],
    ["an issuer with a fragment", { issuer: `${issuer}#x` }, "fragment"],
    ["an issuer without secret or key", { clientSecret: undefined }, "clientAssertion.key"]
  ]
  for (const [name, options, expected] of invalid) {
    it(`refuses ${name}`, () => {
      const result = ClientCredentials.validate({ ...secretOptions, ...options })
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) assert.include(String(result.left), expected)
    })
  }
})
