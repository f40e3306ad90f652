/**
 * Transport security: http:// token URLs refused unless loopback or `allowInsecureHttp`; the body cap
 * stops reading a 10 MB body early; the secret never travels in a URL or query string.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import { ClientCredentials, TokenProvider } from "@oauth-cc/core"
import { FakeAuthServer } from "@oauth-cc/testkit"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import { canarySecret, clientId, secretForms } from "./support/canary.js"
import { baseOptions, serverOptions, socketClient } from "./support/matrix.js"

const options = (tokenUrl: string, allowInsecureHttp?: boolean): ClientCredentials.Options => ({
  tokenUrl,
  clientId,
  clientSecret: Redacted.make(canarySecret),
  ...(allowInsecureHttp === undefined ? {} : { allowInsecureHttp })
})

/** An HttpClient that must never be called (the options are refused before any request). */
const unreachable = HttpClient.make(() => Effect.dieMessage("no request may be sent"))

describe("transport security", () => {
  const refused = [
    "http://auth.example.com/token",
    "http://10.0.0.1/token",
    "http://127.0.0.1.nip.io/token",
    "http://localhost.example.com/token",
    "ftp://auth.example.com/token",
    "file:///etc/passwd",
    "https://user:pass@auth.example.com/token",
    "https://auth.example.com/token#fragment",
    "not a url"
  ]
  const accepted = [
    "https://auth.example.com/token",
    "http://127.0.0.1:8080/token",
    "http://127.10.20.30/token",
    "http://localhost:9000/token",
    "http://[::1]:9000/token"
  ]

  it.effect("refuses http:// (and other schemes, credentials, fragments) unless loopback", () =>
    Effect.gen(function*() {
      for (const url of refused) {
        assert.isTrue(Either.isLeft(ClientCredentials.validate(options(url))), url)
        const exit = yield* Effect.exit(
          Effect.scoped(TokenProvider.make(options(url))).pipe(
            Effect.provideService(HttpClient.HttpClient, unreachable)
          )
        )
        assert.isTrue(Exit.isFailure(exit), `${url}: make refuses`)
        const fromEnv = yield* Effect.either(
          Effect.withConfigProvider(
            ClientCredentials.config(),
            ConfigProvider.fromMap(
              new Map([["OAUTH_TOKEN_URL", url], ["OAUTH_CLIENT_ID", clientId], ["OAUTH_CLIENT_SECRET", canarySecret]]),
              { pathDelim: "_" }
            )
          )
        )
        assert.isTrue(Either.isLeft(fromEnv), `${url}: config refuses`)
        if (Either.isLeft(fromEnv)) {
          for (const form of secretForms(canarySecret)) assert.notInclude(String(fromEnv.left), form)
        }
      }
      for (const url of accepted) assert.isTrue(Either.isRight(ClientCredentials.validate(options(url))), url)
    }))

  it.effect("allowInsecureHttp allows http:// on other hosts, and nothing else", () =>
    Effect.sync(() => {
      assert.isTrue(Either.isRight(ClientCredentials.validate(options("http://auth.internal/token", true))))
      assert.isTrue(Either.isLeft(ClientCredentials.validate(options("ftp://auth.internal/token", true))))
      assert.isTrue(Either.isLeft(ClientCredentials.validate(options("http://u:p@auth.internal/token", true))))
    }))

  it.scoped("a 10 MB body fails with BodyTooLarge after reading little more than the cap", () =>
    Effect.gen(function*() {
      let pulled = 0
      const chunk = new Uint8Array(64 * 1024).fill(0x20)
      const client = HttpClient.make((request) =>
        Effect.sync(() => {
          const stream = new ReadableStream<Uint8Array>({
            pull(controller) {
              if (pulled >= 10 * 1024 * 1024) return controller.close()
              pulled += chunk.length
              controller.enqueue(chunk)
            }
          })
          return HttpClientResponse.fromWeb(
            request,
            new Response(stream, { status: 200, headers: { "content-type": "application/json" } })
          )
        })
      )
      for (const cap of [1024, 1024 * 1024]) {
        pulled = 0
        const provider = yield* TokenProvider.make({
          ...options("https://auth.example.test/token"),
          maxResponseBytes: cap
        }).pipe(Effect.provideService(HttpClient.HttpClient, client))
        const error = yield* Effect.flip(provider.get)
        assert.strictEqual(error._tag, "TokenResponseInvalid")
        assert.strictEqual(error._tag === "TokenResponseInvalid" && error.reason, "BodyTooLarge")
        // the stream is pulled ahead by a chunk or a few, never to the end
        assert.isAtMost(pulled, cap + 4 * chunk.length, `cap ${cap}: read ${pulled} bytes`)
      }
    }))

  it.scopedLive("the secret never travels in a URL or query string, whatever the auth method", () =>
    Effect.gen(function*() {
      for (const authMethod of ["client_secret_basic", "client_secret_post"] as const) {
        const server = yield* FakeAuthServer.make(serverOptions)
        const provider = yield* TokenProvider.make({
          ...baseOptions(`${server.tokenUrl}?tenant=a`, "socket"),
          authMethod,
          scope: "read",
          audience: "https://api.example.test"
        }).pipe(Effect.provideService(HttpClient.HttpClient, yield* socketClient("undici")))
        yield* provider.get
        const [request] = yield* server.tokenRequests
        assert.strictEqual(request!.method, "POST")
        assert.strictEqual(request!.path, "/token?tenant=a", "the configured query only")
        for (const form of secretForms(canarySecret)) assert.notInclude(request!.path, form)
        assert.strictEqual(request!.clientAuthMethod, authMethod)
        assert.strictEqual(request!.headers["content-type"], "application/x-www-form-urlencoded")
        if (authMethod === "client_secret_basic") {
          assert.strictEqual(request!.headers.authorization, "Basic <redacted>")
          assert.isUndefined(request!.form?.client_secret)
        } else {
          assert.isUndefined(request!.headers.authorization)
          assert.strictEqual(request!.form?.client_secret, "<redacted>")
        }
      }
    }))
})
