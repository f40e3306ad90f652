/**
 * RFC 8693 token exchange against a security token service written here (node:http): the form it validates,
 * the cache the exchange shares with client credentials, the subject token's identity in the key, the issued
 * type, errors, and a canary subject token that must never leave the request's form.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import type * as Tracer from "effect/Tracer"
import type * as Http from "node:http"
import { inspect } from "node:util"
import * as AuthorizedHttpClient from "../src/AuthorizedHttpClient.js"
import * as TokenError from "../src/TokenError.js"
import * as TokenExchange from "../src/TokenExchange.js"
import { canarySecret, httpServer, sendJson } from "./utils.js"

const canarySubject = "subj-CANARY-5ee7-eyJhbGciOi"

interface Sts {
  /** Subject tokens the STS accepts. */
  readonly subjects: Set<string>
  /** Every form it got. */
  readonly forms: Array<URLSearchParams>
  /** Replaces the issued answer when set. */
  answer: ((form: URLSearchParams) => { readonly status: number; readonly body: object }) | undefined
}

const basic = `Basic ${Buffer.from(`client-1:${canarySecret}`).toString("base64")}`

/** A security token service: checks the client, the grant and the subject token, and issues `xch-<n>`. */
const sts = (sts: Sts) => (request: Http.IncomingMessage, response: Http.ServerResponse) => {
  let text = ""
  request.on("data", (chunk) => (text += chunk))
  request.on("end", () => {
    if (request.url === "/resource") {
      return sendJson(response, 200, JSON.stringify({ authorization: request.headers.authorization ?? null }))
    }
    const form = new URLSearchParams(text)
    sts.forms.push(form)
    const fail = (status: number, error: string) => sendJson(response, status, JSON.stringify({ error }))
    if (request.method !== "POST" || request.url !== "/token") return fail(404, "not_found")
    if (!request.headers["content-type"]?.startsWith("application/x-www-form-urlencoded")) {
      return fail(400, "invalid_request")
    }
    if (request.headers.authorization !== basic) return fail(401, "invalid_client")
    if (form.get("grant_type") !== TokenExchange.grantType) return fail(400, "unsupported_grant_type")
    if (form.getAll("subject_token").length !== 1 || form.get("subject_token_type") === null) {
      return fail(400, "invalid_request")
    }
    if (sts.answer !== undefined) {
      const { body, status } = sts.answer(form)
      return sendJson(response, status, JSON.stringify(body))
    }
    if (!sts.subjects.has(form.get("subject_token")!)) return fail(400, "invalid_grant")
    sendJson(
      response,
      200,
      JSON.stringify({
        access_token: `xch-${sts.forms.length}`,
        issued_token_type: TokenExchange.TokenType.accessToken,
        token_type: "Bearer",
        expires_in: 3600
      })
    )
  })
}

/** The STS and a provider whose subject token is `current.subject`. */
const setup = (options: Partial<TokenExchange.Options> = {}) =>
  Effect.gen(function*() {
    const state: Sts = { subjects: new Set(["subject-a", "subject-b", canarySubject]), forms: [], answer: undefined }
    const server = yield* httpServer(sts(state))
    const current = { subject: "subject-a" }
    const provider = yield* TokenExchange.make({
      tokenUrl: `${server.url}/token`,
      clientId: "client-1",
      clientSecret: Redacted.make(canarySecret),
      audience: "https://orders.example.test",
      scope: ["orders:read"],
      failureCooldown: 0,
      retry: { maxAttempts: 1 },
      subjectToken: Effect.sync(() => Redacted.make(current.subject)),
      subjectTokenType: TokenExchange.TokenType.jwt,
      ...options
    })
    return { state, server, current, provider }
  })

const value = (token: { readonly value: Redacted.Redacted<string> }) => Redacted.value(token.value)

describe("TokenExchange", () => {
  it.scopedLive("sends the RFC 8693 form with the client's credentials; AuthorizedHttpClient uses the token", () =>
    Effect.gen(function*() {
      const { provider, server, state } = yield* setup({
        actorToken: Effect.succeed(Redacted.make("actor-1")),
        requestedTokenType: TokenExchange.TokenType.accessToken,
        resource: "https://orders.example.test/v1"
      })
      const token = yield* provider.get
      assert.strictEqual(value(token), "xch-1")
      assert.strictEqual(token.tokenType, "Bearer")
      assert.deepStrictEqual([...state.forms[0]!.entries()].sort(), [
        ["actor_token", "actor-1"],
        ["actor_token_type", TokenExchange.TokenType.jwt],
        ["audience", "https://orders.example.test"],
        ["grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"],
        ["requested_token_type", "urn:ietf:params:oauth:token-type:access_token"],
        ["resource", "https://orders.example.test/v1"],
        ["scope", "orders:read"],
        ["subject_token", "subject-a"],
        ["subject_token_type", "urn:ietf:params:oauth:token-type:jwt"]
      ])
      const client = (yield* HttpClient.HttpClient).pipe(AuthorizedHttpClient.authorize(provider))
      const answer = yield* Effect.flatMap(client.get(`${server.url}/resource`), (response) => response.json)
      assert.deepStrictEqual(answer, { authorization: "Bearer xch-1" })
      assert.strictEqual(state.forms.length, 1)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scopedLive("100 concurrent gets make one exchange", () =>
    Effect.gen(function*() {
      const { provider, state } = yield* setup()
      const tokens = yield* Effect.all(Array.from({ length: 100 }, () => provider.get), { concurrency: "unbounded" })
      assert.deepStrictEqual(new Set(tokens.map(value)), new Set(["xch-1"]))
      assert.strictEqual(state.forms.length, 1)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scopedLive("a new subject token gets a new exchange; a known one is served from the cache", () =>
    Effect.gen(function*() {
      const { current, provider, state } = yield* setup()
      assert.strictEqual(value(yield* provider.get), "xch-1")
      assert.strictEqual(value(yield* provider.get), "xch-1")
      current.subject = "subject-b"
      assert.strictEqual(value(yield* provider.get), "xch-2")
      assert.strictEqual(state.forms[1]!.get("subject_token"), "subject-b")
      current.subject = "subject-a"
      assert.strictEqual(value(yield* provider.get), "xch-1")
      assert.strictEqual(state.forms.length, 2)
      // another parameter set is its own key, with the same subject
      assert.strictEqual(value(yield* provider.getFor({ scope: "orders:write" })), "xch-3")
      yield* provider.invalidate()
      assert.strictEqual(value(yield* provider.get), "xch-4")
      assert.strictEqual(value(yield* provider.refresh), "xch-5")
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scopedLive("invalid_request and invalid_target are TokenRequestRejected; a failing subject source fails the get", () =>
    Effect.gen(function*() {
      const { provider, state } = yield* setup()
      for (const error of ["invalid_request", "invalid_target"]) {
        state.answer = () => ({ status: 400, body: { error, error_description: "no" } })
        const failure = yield* Effect.flip(provider.get)
        assert.isTrue(failure._tag === "TokenRequestRejected" && failure.error === error, failure.message)
      }
      const broken = yield* TokenExchange.make({
        tokenUrl: "https://sts.example.test/token",
        clientId: "client-1",
        clientSecret: Redacted.make(canarySecret),
        subjectToken: Effect.fail(new TokenError.TokenServerError({ status: 503, attempts: 1 })),
        subjectTokenType: TokenExchange.TokenType.jwt
      })
      assert.strictEqual((yield* Effect.flip(broken.get))._tag, "TokenServerError")
      const dying = yield* TokenExchange.make({
        tokenUrl: "https://sts.example.test/token",
        clientId: "client-1",
        clientSecret: Redacted.make(canarySecret),
        subjectToken: Effect.promise(() => Promise.reject(new Error(`ENOENT ${canarySubject}`))),
        subjectTokenType: TokenExchange.TokenType.jwt
      })
      const died = yield* Effect.flip(dying.get)
      assert.isTrue(died._tag === "TokenTransportError" && died.reason === "Unexpected")
      assert.notInclude(died.message, "CANARY")
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scopedLive("issued_token_type: required, the one requested; token_type N_A only for a token that is not an access token", () =>
    Effect.gen(function*() {
      const issue = (body: object) => () => ({
        status: 200,
        body: { access_token: "issued-1", expires_in: 60, ...body }
      })
      const plain = yield* setup()
      plain.state.answer = issue({ token_type: "Bearer" })
      const missing = yield* Effect.flip(plain.provider.get)
      assert.isTrue(missing._tag === "TokenResponseInvalid" && missing.reason === "UnsupportedTokenType")
      plain.state.answer = issue({ token_type: "N_A", issued_token_type: TokenExchange.TokenType.accessToken })
      assert.strictEqual((yield* Effect.flip(plain.provider.get))._tag, "TokenResponseInvalid")
      plain.state.answer = issue({ token_type: "Bearer", issued_token_type: TokenExchange.TokenType.jwt })
      const other = yield* Effect.flip(plain.provider.get)
      assert.include(other.message, `"${TokenExchange.TokenType.jwt}" is not the requested`)

      const jwt = yield* setup({ requestedTokenType: TokenExchange.TokenType.jwt })
      jwt.state.answer = issue({ token_type: "N_A", issued_token_type: TokenExchange.TokenType.jwt })
      const token = yield* jwt.provider.get
      assert.deepStrictEqual([value(token), token.tokenType], ["issued-1", "N_A"])
      assert.strictEqual(jwt.state.forms[0]!.get("requested_token_type"), TokenExchange.TokenType.jwt)
      // an N_A token authorizes nothing: the authorized client refuses before sending
      const sent: Array<string> = []
      const recorder = HttpClient.make((request) =>
        Effect.sync(() => {
          sent.push(request.url)
          return HttpClientResponse.fromWeb(request, new Response("{}"))
        })
      )
      const api = AuthorizedHttpClient.authorize(recorder, jwt.provider)
      const refused = yield* Effect.flip(api.get("https://api.example.test/data"))
      assert.isTrue(refused._tag === "RequestError" && refused.reason === "Encode", refused.message)
      assert.include(refused.message, "N_A")
      assert.deepStrictEqual(sent, [])
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scopedLive("the subject token never appears in an error, a log line or a span, even when the STS echoes it", () => {
    const logs: Array<string> = []
    const spans: Array<Tracer.Span> = []
    return Effect.gen(function*() {
      const { current, provider, state } = yield* setup()
      current.subject = canarySubject
      const echoes = [canarySubject, encodeURIComponent(canarySubject), Buffer.from(canarySubject).toString("base64")]
      const errors: Array<unknown> = []
      for (const echo of echoes) {
        state.answer = () => ({ status: 400, body: { error: `bad ${echo}`, error_description: `got ${echo}` } })
        errors.push(yield* Effect.flip(provider.get))
      }
      state.answer = () => ({ status: 200, body: { access_token: `x${canarySubject}`, token_type: "Bearer" } })
      errors.push(yield* Effect.flip(provider.get))
      state.answer = undefined
      yield* provider.get
      const rendered = [
        ...errors.flatMap((e) => [String(e), JSON.stringify(e), inspect(e, { depth: 10 })]),
        ...logs,
        ...spans.map((span) => inspect([span.name, [...span.attributes]], { depth: 10 }))
      ]
      assert.isAbove(logs.length, 0)
      assert.isAbove(spans.length, 5)
      for (const text of rendered) {
        assert.notInclude(text, "CANARY", text)
        assert.notInclude(text, Buffer.from(canarySubject).toString("base64").slice(0, 16), text)
      }
    }).pipe(
      Effect.provide(FetchHttpClient.layer),
      Effect.provide(Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ annotations, cause, message }) =>
          void logs.push(inspect({ message, cause, annotations: [...annotations] }, { depth: 10 }))
        )
      )),
      Logger.withMinimumLogLevel(LogLevel.Debug),
      (self) =>
        Effect.tracerWith((tracer) =>
          Effect.withTracer(self, {
            ...tracer,
            span: (...args) => {
              const span = tracer.span(...args)
              spans.push(span)
              return span
            }
          })
        )
    )
  })
})
