/**
 * Answers real providers give, from `node:http` servers written in the test: Glewlwyd refuses a wrong secret
 * with an empty 403; Django OAuth Toolkit answers the RFC 8414 metadata path with a 301 to the same path with
 * a trailing `/`.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as TokenError from "../src/TokenError.js"
import * as TokenProvider from "../src/TokenProvider.js"
import { baseOptions, canarySecret, httpServer, sendJson } from "./utils.js"

const failure = <A>(exit: Exit.Exit<A, TokenError.TokenError>): TokenError.TokenError | undefined =>
  Exit.isFailure(exit) && Cause.isFailType(exit.cause) ? exit.cause.error : undefined

const token = JSON.stringify({ access_token: "tok-1", token_type: "Bearer", expires_in: 3600 })

describe("a 403 without an RFC 6749 error body", () => {
  for (
    const [what, contentType, body] of [
      ["an empty body", undefined, ""],
      ["an HTML page", "text/html", "<html><body>Forbidden</body></html>"],
      ["JSON without error", "application/json", `{"message":"forbidden"}`]
    ] as const
  ) {
    it.scopedLive(`${what}: TokenRequestRejected(invalid_client), not TokenResponseInvalid`, () =>
      Effect.gen(function*() {
        const server = yield* httpServer((_, response) => {
          response.writeHead(403, contentType === undefined ? {} : { "content-type": contentType })
          response.end(body)
        })
        const provider = yield* TokenProvider.make({ ...baseOptions, tokenUrl: `${server.url}/token` }).pipe(
          Effect.provide(FetchHttpClient.layer)
        )
        const error = failure(yield* Effect.exit(provider.get))
        assert.strictEqual(error?._tag, "TokenRequestRejected", String(error))
        assert.isTrue(error?._tag === "TokenRequestRejected" && error.error === "invalid_client")
        assert.isTrue(error?._tag === "TokenRequestRejected" && error.status === 403)
        assert.include(error?.message, "HTTP 403")
        assert.notInclude(error?.message, canarySecret)
        assert.isFalse(error?.retryable)
        assert.strictEqual(server.requests.length, 1)
      }))
  }

  it.scopedLive("an RFC 6749 error body on a 403 keeps its own error code", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_, response) => sendJson(response, 403, `{"error":"unauthorized_client"}`))
      const provider = yield* TokenProvider.make({ ...baseOptions, tokenUrl: `${server.url}/token` }).pipe(
        Effect.provide(FetchHttpClient.layer)
      )
      const error = failure(yield* Effect.exit(provider.get))
      assert.isTrue(error?._tag === "TokenRequestRejected" && error.error === "unauthorized_client", String(error))
    }))
})

const rfcPath = "/.well-known/oauth-authorization-server/o"

describe("discovery follows redirects within the issuer's origin", () => {
  it.scopedLive("a 301 to the trailing-slash path (Django OAuth Toolkit): metadata read, token fetched", () =>
    Effect.gen(function*() {
      let origin = ""
      const server = yield* httpServer((request, response) => {
        if (request.url === rfcPath) {
          response.writeHead(301, { location: `${rfcPath}/` })
          return response.end()
        }
        if (request.url === `${rfcPath}/`) {
          return sendJson(
            response,
            200,
            JSON.stringify({ issuer: `${origin}/o`, token_endpoint: `${origin}/o/token/` })
          )
        }
        if (request.url === "/o/token/") return sendJson(response, 200, token)
        sendJson(response, 404, "{}")
      })
      origin = server.url
      const provider = yield* TokenProvider.make({ ...baseOptions, tokenUrl: undefined, issuer: `${origin}/o` }).pipe(
        Effect.provide(FetchHttpClient.layer)
      )
      const accessToken = yield* provider.get
      assert.strictEqual(accessToken.tokenType, "Bearer")
      assert.deepStrictEqual(server.requests.map((r) => `${r.method} ${r.path}`), [
        `GET ${rfcPath}`,
        `GET ${rfcPath}/`,
        "POST /o/token/"
      ])
    }))

  for (const status of [302, 307, 308]) {
    it.scopedLive(`a relative ${status} is followed too`, () =>
      Effect.gen(function*() {
        let origin = ""
        const server = yield* httpServer((request, response) => {
          if (request.url === rfcPath) {
            response.writeHead(status, { location: "elsewhere" })
            return response.end()
          }
          if (request.url === "/.well-known/oauth-authorization-server/elsewhere") {
            return sendJson(response, 200, JSON.stringify({ issuer: `${origin}/o`, token_endpoint: `${origin}/t` }))
          }
          if (request.url === "/t") return sendJson(response, 200, token)
          sendJson(response, 404, "{}")
        })
        origin = server.url
        const provider = yield* TokenProvider.make({ ...baseOptions, tokenUrl: undefined, issuer: `${origin}/o` }).pipe(
          Effect.provide(FetchHttpClient.layer)
        )
        yield* provider.get
        assert.strictEqual(server.requests.length, 3)
      }))
  }

  it.scopedLive("a redirect to another origin: TokenDiscoveryFailed(RejectedRedirect), that origin never asked", () =>
    Effect.gen(function*() {
      const other = yield* httpServer((_, response) =>
        sendJson(response, 200, JSON.stringify({ issuer: "x", token_endpoint: "https://evil.test/token" }))
      )
      const server = yield* httpServer((_, response) => {
        response.writeHead(301, { location: `${other.url}${rfcPath}` })
        response.end()
      })
      const provider = yield* TokenProvider.make({ ...baseOptions, tokenUrl: undefined, issuer: `${server.url}/o` })
        .pipe(Effect.provide(FetchHttpClient.layer))
      const error = failure(yield* Effect.exit(provider.get))
      assert.isTrue(error?._tag === "TokenDiscoveryFailed" && error.reason === "RejectedRedirect", String(error))
      assert.isFalse(error?.retryable)
      assert.include(error?.message, other.url)
      assert.strictEqual(other.requests.length, 0)
      assert.strictEqual(server.requests.length, 1)
    }))

  it.scopedLive("a redirect loop within the origin stops after 3 redirects: RejectedRedirect", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((request, response) => {
        response.writeHead(308, { location: request.url === rfcPath ? `${rfcPath}/` : rfcPath })
        response.end()
      })
      const provider = yield* TokenProvider.make({ ...baseOptions, tokenUrl: undefined, issuer: `${server.url}/o` })
        .pipe(Effect.provide(FetchHttpClient.layer))
      const error = failure(yield* Effect.exit(provider.get))
      assert.isTrue(error?._tag === "TokenDiscoveryFailed" && error.reason === "RejectedRedirect", String(error))
      assert.include(error?.message, "more than 3")
      assert.strictEqual(server.requests.length, 4)
    }))

  it.scopedLive("the token request never follows a redirect, even within the origin", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((request, response) => {
        if (request.url === "/token") {
          response.writeHead(307, { location: "/token2" })
          return response.end()
        }
        sendJson(response, 200, token)
      })
      const provider = yield* TokenProvider.make({ ...baseOptions, tokenUrl: `${server.url}/token` }).pipe(
        Effect.provide(FetchHttpClient.layer)
      )
      const error = failure(yield* Effect.exit(provider.get))
      assert.isTrue(error?._tag === "TokenResponseInvalid" && error.reason === "UnexpectedStatus", String(error))
      assert.deepStrictEqual(server.requests.map((r) => r.path), ["/token"])
    }))
})
