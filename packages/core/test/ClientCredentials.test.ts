import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as ClientCredentials from "../src/ClientCredentials.js"
import * as TokenProvider from "../src/TokenProvider.js"
import { baseOptions, canarySecret, fakeClient, tokenBody } from "./utils.js"

const env = (vars: Record<string, string>) => ConfigProvider.fromMap(new Map(Object.entries(vars)), { pathDelim: "_" })

const good = {
  OAUTH_TOKEN_URL: "https://auth.example.test/token",
  OAUTH_CLIENT_ID: "svc",
  OAUTH_CLIENT_SECRET: canarySecret
}

const load = (vars: Record<string, string>, prefix?: string) =>
  Effect.either(Effect.withConfigProvider(ClientCredentials.config(prefix), env(vars)))

describe("ClientCredentials.validate", () => {
  for (
    const key of [
      "grant_type",
      "client_id",
      "client_secret",
      "client_assertion",
      "client_assertion_type",
      "scope",
      "audience",
      "resource"
    ]
  ) {
    it(`rejects extraParams naming the reserved parameter ${key}`, () => {
      const result = ClientCredentials.validate({ ...baseOptions, extraParams: { tenant: "a", [key]: "x" } })
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) assert.include(String(result.left), `must not set ${key}`)
    })
  }
  it("accepts other extraParams", () => {
    assert.isTrue(Either.isRight(ClientCredentials.validate({ ...baseOptions, extraParams: { organization: "o" } })))
  })
})

describe("ClientCredentials.config", () => {
  it.effect("reads the OAUTH_* variables, splitting scope and resource on spaces", () =>
    Effect.gen(function*() {
      const result = yield* load({
        ...good,
        OAUTH_SCOPE: "read  write",
        OAUTH_AUDIENCE: "https://api.example.test",
        OAUTH_RESOURCE: "https://r1.example.test https://r2.example.test",
        OAUTH_AUTH_METHOD: "client_secret_post"
      })
      assert.isTrue(Either.isRight(result))
      const options = Either.getOrThrow(result)
      assert.strictEqual(options.tokenUrl, "https://auth.example.test/token")
      assert.strictEqual(options.clientId, "svc")
      assert.isTrue(Redacted.isRedacted(options.clientSecret))
      assert.strictEqual(Redacted.value(options.clientSecret!), canarySecret)
      assert.deepStrictEqual(options.scope, ["read", "write"])
      assert.deepStrictEqual(options.resource, ["https://r1.example.test", "https://r2.example.test"])
      assert.strictEqual(options.authMethod, "client_secret_post")
      assert.notInclude(JSON.stringify(options), canarySecret)
      assert.notInclude(String(options.clientSecret), canarySecret)
    }))

  it.effect("supports another prefix", () =>
    Effect.gen(function*() {
      const result = yield* load({
        BILLING_TOKEN_URL: good.OAUTH_TOKEN_URL,
        BILLING_CLIENT_ID: "b",
        BILLING_CLIENT_SECRET: "x"
      }, "BILLING")
      assert.isTrue(Either.isRight(result))
    }))

  const bad: ReadonlyArray<[string, Record<string, string>, string]> = [
    ["a missing token URL", { OAUTH_CLIENT_ID: "svc", OAUTH_CLIENT_SECRET: "x" }, "TOKEN_URL"],
    ["a malformed URL", { ...good, OAUTH_TOKEN_URL: "not a url" }, "not a valid absolute URL"],
    ["http on a public host", { ...good, OAUTH_TOKEN_URL: "http://auth.example.test/token" }, "must use https"],
    // resolved through DNS by Node, which may answer with any address: not loopback
    ["http on a *.localhost name", { ...good, OAUTH_TOKEN_URL: "http://evil.localhost/token" }, "must use https"],
    ["ftp", { ...good, OAUTH_TOKEN_URL: "ftp://auth.example.test/token" }, "must use https"],
    ["credentials in the URL", { ...good, OAUTH_TOKEN_URL: "https://u:p@auth.example.test/token" }, "credentials"],
    ["an empty client id", { ...good, OAUTH_CLIENT_ID: " " }, "must not be empty"],
    ["a missing secret", { OAUTH_TOKEN_URL: good.OAUTH_TOKEN_URL, OAUTH_CLIENT_ID: "svc" }, "OAUTH_CLIENT_SECRET"],
    ["an unknown auth method", { ...good, OAUTH_AUTH_METHOD: "magic" }, "AUTH_METHOD"],
    ["a scope with a quote", { ...good, OAUTH_SCOPE: "a\"b" }, "RFC 6749"],
    ["a relative resource", { ...good, OAUTH_RESOURCE: "/api" }, "absolute URI"]
  ]
  for (const [name, vars, expected] of bad) {
    it.effect(`fails with a ConfigError on ${name}`, () =>
      Effect.gen(function*() {
        const result = yield* load(vars)
        assert.isTrue(Either.isLeft(result))
        if (Either.isLeft(result)) {
          const message = String(result.left)
          assert.include(message, expected)
          assert.notInclude(message, canarySecret)
        }
      }))
  }

  it.effect("allows http on loopback hosts", () =>
    Effect.gen(function*() {
      for (const url of ["http://127.0.0.1:8080/token", "http://localhost/token", "http://[::1]:9/token"]) {
        assert.isTrue(Either.isRight(yield* load({ ...good, OAUTH_TOKEN_URL: url })), url)
      }
    }))

  it.effect("TokenProvider.layerConfig fails at layer build with the ConfigError", () =>
    Effect.gen(function*() {
      const fake = fakeClient((_, n) => ({ body: tokenBody(n) }))
      const layer = TokenProvider.layerConfig(ClientCredentials.config()).pipe(
        Layer.provide(Layer.succeed(HttpClient.HttpClient, fake.client))
      )
      const failed = yield* Effect.either(
        Effect.provide(TokenProvider.get, layer).pipe(
          Effect.withConfigProvider(env({ ...good, OAUTH_TOKEN_URL: "http://x.test" }))
        )
      )
      assert.isTrue(Either.isLeft(failed))
      assert.strictEqual(fake.seen.length, 0)
      const ok = yield* Effect.provide(TokenProvider.get, layer).pipe(Effect.withConfigProvider(env(good)))
      assert.strictEqual(Redacted.value(ok.value), "tok-1")
    }))

  it("make with invalid options in code is a defect with a clear message", () => {
    assert.throws(
      () => ClientCredentials.validate({ tokenUrl: "nope", clientId: "x" }).pipe(Either.getOrThrowWith(String)),
      /tokenUrl/
    )
  })
})
