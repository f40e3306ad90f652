/**
 * A token endpoint written for the attack (a `node:http` server in the test): deeply nested JSON in every
 * field and as the body. `get` must end with a `TokenError` — never a defect — and the failure must start
 * the cooldown like any other.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as TokenError from "../src/TokenError.js"
import * as TokenProvider from "../src/TokenProvider.js"
import { baseOptions, httpServer, sendJson } from "./utils.js"

const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`

const bodies = (
  depth: number
): ReadonlyArray<readonly [string, string, TokenError.TokenResponseInvalid["reason"]]> => [
  ["access_token", `{"access_token":${nested(depth)},"token_type":"Bearer","expires_in":60}`, "MissingAccessToken"],
  ["token_type", `{"access_token":"tok","token_type":${nested(depth)},"expires_in":60}`, "UnsupportedTokenType"],
  ["expires_in", `{"access_token":"tok","token_type":"Bearer","expires_in":${nested(depth)}}`, "InvalidExpiresIn"],
  ["scope", `{"access_token":"tok","token_type":"Bearer","expires_in":60,"scope":${nested(depth)}}`, "InvalidScope"],
  ["the body", nested(depth), "NotAnObject"],
  ["error", `{"error":${nested(depth)}}`, "MissingAccessToken"],
  ["error_description", `{"error":"invalid_scope","error_description":${nested(depth)}}`, "MissingAccessToken"]
]

describe("hostile token responses", () => {
  for (const depth of [1_000, 5_000, 100_000, 300_000]) {
    it.scopedLive(
      `JSON nested ${depth.toLocaleString("en-US")} levels deep in each field: TokenResponseInvalid`,
      () =>
        Effect.gen(function*() {
          for (const [field, body, reason] of bodies(depth)) {
            const server = yield* httpServer((_, response) => sendJson(response, 200, body))
            const provider = yield* TokenProvider.make({
              ...baseOptions,
              tokenUrl: `${server.url}/token`,
              maxResponseBytes: 1024 * 1024
            }).pipe(Effect.provide(FetchHttpClient.layer))
            const exit = yield* Effect.exit(provider.get)
            assert.isTrue(Exit.isFailure(exit) && Cause.isFailType(exit.cause), `${field}: ${String(exit)}`)
            const error = Exit.isFailure(exit) && Cause.isFailType(exit.cause) ? exit.cause.error : undefined
            assert.strictEqual(error?._tag, "TokenResponseInvalid", field)
            assert.strictEqual(error?._tag === "TokenResponseInvalid" && error.reason, reason, field)
            // the failure cools down: ten more calls make no request
            for (let i = 0; i < 10; i++) yield* Effect.exit(provider.get)
            assert.strictEqual(server.requests.length, 1, `${field}: requests`)
          }
        }),
      60_000
    )
  }

  it.scopedLive(
    "discovery metadata nested 300,000 levels deep: TokenDiscoveryFailed(InvalidMetadata)",
    () =>
      Effect.gen(function*() {
        for (const member of ["issuer", "token_endpoint", "token_endpoint_auth_methods_supported"]) {
          const server = yield* httpServer((_, response) =>
            sendJson(
              response,
              200,
              `{"${member}":${nested(300_000)},"issuer":"x","token_endpoint":"y"}`.replace(
                member === "issuer" ? `,"issuer":"x"` : member === "token_endpoint" ? `,"token_endpoint":"y"` : "",
                ""
              )
            )
          )
          const provider = yield* TokenProvider.make({ ...baseOptions, tokenUrl: undefined, issuer: server.url }).pipe(
            Effect.provide(FetchHttpClient.layer)
          )
          const exit = yield* Effect.exit(provider.get)
          assert.isTrue(Exit.isFailure(exit) && Cause.isFailType(exit.cause), `${member}: ${String(exit)}`)
          const error = Exit.isFailure(exit) && Cause.isFailType(exit.cause) ? exit.cause.error : undefined
          assert.strictEqual(error?._tag === "TokenDiscoveryFailed" && error.reason, "InvalidMetadata", member)
        }
      }),
    60_000
  )

  it.scoped("a defect inside a fetch is a typed failure and starts the cooldown", () =>
    Effect.gen(function*() {
      let requests = 0
      const dying = HttpClient.make(() =>
        Effect.suspend(() => {
          requests++
          return Effect.die(new RangeError("Maximum call stack size exceeded"))
        })
      )
      const provider = yield* TokenProvider.make(baseOptions).pipe(Effect.provideService(HttpClient.HttpClient, dying))
      for (let i = 0; i < 10; i++) {
        const exit = yield* Effect.exit(provider.get)
        assert.isTrue(Exit.isFailure(exit) && Cause.isFailType(exit.cause), String(exit))
        if (Exit.isFailure(exit) && Cause.isFailType(exit.cause)) {
          assert.strictEqual(exit.cause.error._tag, "TokenTransportError")
          assert.include(exit.cause.error.message, "RangeError")
          assert.isFalse(exit.cause.error.retryable)
        }
      }
      assert.strictEqual(requests, 1)
    }))
})
