/**
 * A `ConfigError` names the variable a user would set: every variable of `ClientCredentials.config()`,
 * given a bad value (or missing where required), yields an error whose text contains `OAUTH_<NAME>`
 * (and never the secret).
 */
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ClientCredentials from "../src/ClientCredentials.js"
import { canarySecret } from "./utils.js"

const good = {
  OAUTH_TOKEN_URL: "https://auth.example.test/token",
  OAUTH_CLIENT_ID: "svc",
  OAUTH_CLIENT_SECRET: canarySecret
}

const load = (vars: Record<string, string>, prefix?: string) =>
  Effect.either(
    Effect.withConfigProvider(
      ClientCredentials.config(prefix),
      ConfigProvider.fromMap(new Map(Object.entries(vars)), { pathDelim: "_" })
    )
  )

const { OAUTH_CLIENT_SECRET: _secret, ...withoutSecret } = good
const { OAUTH_TOKEN_URL: _url, ...withoutUrl } = good

const cases: ReadonlyArray<readonly [variable: string, vars: Record<string, string>]> = [
  ["OAUTH_TOKEN_URL", { ...good, OAUTH_TOKEN_URL: "http://auth.example.test/token" }],
  ["OAUTH_TOKEN_URL", withoutUrl],
  ["OAUTH_ISSUER", { ...withoutUrl, OAUTH_ISSUER: "https://auth.example.test/?tenant=a" }],
  ["OAUTH_CLIENT_ID", { ...good, OAUTH_CLIENT_ID: " " }],
  ["OAUTH_CLIENT_ID", { OAUTH_TOKEN_URL: good.OAUTH_TOKEN_URL, OAUTH_CLIENT_SECRET: canarySecret }],
  ["OAUTH_CLIENT_SECRET", withoutSecret],
  ["OAUTH_SCOPE", { ...good, OAUTH_SCOPE: "a\"b" }],
  ["OAUTH_RESOURCE", { ...good, OAUTH_RESOURCE: "/api" }],
  ["OAUTH_AUTH_METHOD", { ...good, OAUTH_AUTH_METHOD: "magic" }],
  ["OAUTH_CLIENT_ASSERTION_KEY", { ...withoutSecret, OAUTH_CLIENT_ASSERTION_KEY: "not a key" }],
  ["OAUTH_CLIENT_ASSERTION_ALG", { ...good, OAUTH_CLIENT_ASSERTION_ALG: "none" }],
  ["OAUTH_CLIENT_ASSERTION_AUDIENCE", { ...good, OAUTH_CLIENT_ASSERTION_AUDIENCE: "issuer" }]
]

describe("ClientCredentials.config errors name the variable", () => {
  for (const [variable, vars] of cases) {
    it.effect(`${variable}: ${JSON.stringify(vars[variable] ?? "(missing)")}`, () =>
      Effect.gen(function*() {
        const result = yield* load(vars)
        assert.isTrue(Either.isLeft(result), "a ConfigError")
        if (Either.isLeft(result)) {
          const text = String(result.left)
          assert.include(text, variable)
          if (variable === "OAUTH_CLIENT_SECRET") {
            assert.strictEqual(
              text,
              "(Invalid data at OAUTH.CLIENT_SECRET: \"OAUTH_CLIENT_SECRET is required by client_secret_basic\")"
            )
          }
          assert.notInclude(text, canarySecret)
        }
      }))
  }

  it.effect("with another prefix, and with none", () =>
    Effect.gen(function*() {
      const other = yield* load({ BILLING_TOKEN_URL: good.OAUTH_TOKEN_URL, BILLING_CLIENT_ID: "svc" }, "BILLING")
      assert.isTrue(Either.isLeft(other) && String(other.left).includes("BILLING_CLIENT_SECRET"), String(other))
      const none = yield* load({ TOKEN_URL: good.OAUTH_TOKEN_URL, CLIENT_ID: "svc" }, "")
      assert.isTrue(Either.isLeft(none) && String(none.left).includes("CLIENT_SECRET"), String(none))
    }))
})
