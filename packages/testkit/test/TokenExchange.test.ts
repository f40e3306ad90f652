/**
 * The fake server's RFC 8693 token exchange, driven by core's `TokenExchange` through the in-process client:
 * the same client authentication, an `issued_token_type` in the answer, the subject token masked in the journal.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { AuthorizedHttpClient, TokenExchange } from "@oauth-cc/core"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { FakeAuthServer } from "../src/index.js"
import { defaultBasic } from "./utils.js"

const subject = "subject-jwt-CANARY-7d1"

const provider = (options: Partial<TokenExchange.Options> = {}) =>
  Effect.flatMap(FakeAuthServer.FakeAuthServer, (server) =>
    TokenExchange.make({
      tokenUrl: server.tokenUrl,
      clientId: "test-client",
      clientSecret: Redacted.make("test-secret"),
      subjectToken: Effect.succeed(Redacted.make(subject)),
      subjectTokenType: TokenExchange.TokenType.jwt,
      ...options
    }))

describe("FakeAuthServer token exchange (RFC 8693)", () => {
  it.scoped("issues an access token for a subject token; the journal masks the subject token", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.FakeAuthServer
      const exchange = yield* provider()
      const token = yield* exchange.get
      assert.strictEqual(token.tokenType, "Bearer")
      const client = (yield* HttpClient.HttpClient).pipe(AuthorizedHttpClient.authorize(exchange))
      assert.strictEqual((yield* client.get(`${server.resourceUrl}/x`)).status, 200)
      const [entry] = yield* FakeAuthServer.requests
      assert.strictEqual(entry!.form!.grant_type, TokenExchange.grantType)
      assert.strictEqual(entry!.form!.subject_token_type, TokenExchange.TokenType.jwt)
      assert.notInclude(JSON.stringify(yield* FakeAuthServer.requests), "CANARY")
      // a requested JWT is issued as one
      assert.strictEqual(
        (yield* (yield* provider({ requestedTokenType: TokenExchange.TokenType.jwt })).get).tokenType,
        "Bearer"
      )
    }).pipe(Effect.provide(FakeAuthServer.layerHttpClient())))

  it.effect("refuses an exchange without a subject token, or for a type it does not issue", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.FakeAuthServer
      const client = yield* HttpClient.HttpClient
      const answer = (form: Record<string, string>) =>
        client.execute(
          HttpClientRequest.post(server.tokenUrl).pipe(
            HttpClientRequest.setHeader("authorization", defaultBasic),
            HttpClientRequest.bodyUrlParams({ grant_type: TokenExchange.grantType, ...form })
          )
        ).pipe(Effect.flatMap((response) => Effect.map(response.json, (body) => [response.status, body])))
      assert.deepStrictEqual((yield* answer({ subject_token_type: TokenExchange.TokenType.jwt }))[0], 400)
      const [status, body] = yield* answer({
        subject_token: "s",
        subject_token_type: TokenExchange.TokenType.jwt,
        requested_token_type: TokenExchange.TokenType.saml2
      })
      assert.deepStrictEqual([status, (body as any).error], [400, "invalid_request"])
      const [ok, issued] = yield* answer({ subject_token: "s", subject_token_type: TokenExchange.TokenType.jwt })
      assert.deepStrictEqual([ok, (issued as any).issued_token_type], [200, TokenExchange.TokenType.accessToken])
    }).pipe(Effect.provide(FakeAuthServer.layerHttpClient())))
})
