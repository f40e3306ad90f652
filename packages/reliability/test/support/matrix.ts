/**
 * The fault matrix: what the token endpoint does, and what `TokenProvider.get` must make of it — the
 * outcome (a token, or the exact `TokenError` tag with its reason / code / status / attempts), the
 * number of token requests the server's journal shows, and a bound on the time it took.
 *
 * `socket` cases run over real loopback sockets (undici, as `@oauth-cc/node-adapter` sets it up, or
 * `fetch`) with the wall clock; `virtual` cases run against the in-process server under `TestClock`,
 * where waits of seconds cost nothing and their length is exact.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert } from "@effect/vitest"
import type { AccessToken, ClientCredentials, TokenError } from "@oauth-cc/core"
import { TokenProvider } from "@oauth-cc/core"
import * as NodeTransport from "@oauth-cc/node-adapter/NodeTransport"
import { FakeAuthServer, FakeResponse } from "@oauth-cc/testkit"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as Net from "node:net"
import { canarySecret, canaryToken, clientId, type Sink, wrongSecret } from "./canary.js"

export type Expect =
  | {
    readonly _tag: "Success"
    readonly tokenType?: string
    readonly lifetimeSeconds?: number
    readonly value?: string
  }
  | { readonly _tag: "TokenRequestRejected"; readonly error: string; readonly status: number }
  | { readonly _tag: "TokenRateLimited"; readonly attempts: number }
  | { readonly _tag: "TokenServerError"; readonly status: number; readonly attempts: number }
  | { readonly _tag: "TokenTransportError"; readonly reason: "Timeout" | "Network"; readonly attempts: number }
  | {
    readonly _tag: "TokenResponseInvalid"
    readonly reason: TokenError.TokenResponseInvalid["reason"]
    readonly status: number
  }

export interface Script {
  readonly enqueue?: ReadonlyArray<FakeResponse.FakeResponse>
  readonly always?: FakeResponse.FakeResponse
}

export interface Case {
  readonly name: string
  readonly mode: "socket" | "virtual"
  /** The transport of socket cases. Default: undici. */
  readonly client?: "undici" | "fetch"
  /** Where the token URL points: the server (default), a port nobody listens on, or a redirect target check. */
  readonly target?: "server" | "refused" | "redirect"
  readonly options?: Partial<ClientCredentials.Options>
  /** The answers; `now` is the server's clock, `other` the URL of a second server (redirect cases). */
  readonly script: (now: number, other: string) => Script
  readonly expect: Expect
  readonly tokenRequests: number
  /** Upper bound on the time `get` took: wall millis (socket) or virtual millis (virtual). */
  readonly maxMillis: number
  /** Lower bound (virtual cases that must wait a `Retry-After` or a backoff). */
  readonly minMillis?: number
  /** Runs after the outcome was checked (further calls, journal checks). */
  readonly after?: (run: Run) => Effect.Effect<void>
}

export interface Run {
  readonly result: Either.Either<AccessToken.AccessToken, TokenError.TokenError>
  readonly millis: number
  readonly server: FakeAuthServer.Service
  readonly provider: TokenProvider.Service
  /** The second server of redirect cases. */
  readonly other: FakeAuthServer.Service | undefined
}

const html = (title: string) => `<!doctype html><html><head><title>${title}</title></head><body>${title}</body></html>`

const socketRetry = { maxAttempts: 3, baseDelay: "20 millis", maxDelay: "100 millis", jitter: false } as const

export const baseOptions = (tokenUrl: string, mode: Case["mode"]): ClientCredentials.Options => ({
  tokenUrl,
  clientId,
  clientSecret: Redacted.make(canarySecret),
  ...(mode === "socket" ? { retry: socketRetry, requestTimeout: "1 second" } : { retry: { jitter: false } })
})

export const serverOptions: FakeAuthServer.Options = {
  clients: [{ id: clientId, secret: canarySecret, scopes: ["read", "write"] }]
}

const token = (extra: Record<string, unknown>) => FakeResponse.token({ extra })
const once = (...enqueue: ReadonlyArray<FakeResponse.FakeResponse>) => () => ({ enqueue })
const always = (response: FakeResponse.FakeResponse) => () => ({ always: response })
const normal = () => ({})

const rejected = (error: string, status = 400): Expect => ({ _tag: "TokenRequestRejected", error, status })
const invalid = (reason: TokenError.TokenResponseInvalid["reason"], status = 200): Expect => ({
  _tag: "TokenResponseInvalid",
  reason,
  status
})
const network = (attempts: number): Expect => ({ _tag: "TokenTransportError", reason: "Network", attempts })
const timeout = (attempts: number): Expect => ({ _tag: "TokenTransportError", reason: "Timeout", attempts })

/** The socket cases' time bound for a single quick exchange (generous: CI machines are shared). */
const quick = 2000

export const cases: ReadonlyArray<Case> = [
  // --- baseline ------------------------------------------------------------------------------------
  {
    name: "200 token",
    mode: "socket",
    script: normal,
    expect: { _tag: "Success", tokenType: "Bearer", lifetimeSeconds: 300 },
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 token over fetch",
    mode: "socket",
    client: "fetch",
    script: normal,
    expect: { _tag: "Success", tokenType: "Bearer", lifetimeSeconds: 300 },
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 with a canary access_token",
    mode: "socket",
    script: once(token({ access_token: canaryToken })),
    expect: { _tag: "Success", value: canaryToken },
    tokenRequests: 1,
    maxMillis: quick
  },

  // --- RFC 6749 §5.2 errors: never retried ----------------------------------------------------------
  ...(["invalid_request", "invalid_grant", "unauthorized_client", "unsupported_grant_type", "invalid_target"] as const)
    .map((code): Case => ({
      name: `400 ${code}`,
      mode: "socket",
      script: once(FakeResponse.oauthError(code, { description: `scripted ${code}` })),
      expect: rejected(code),
      tokenRequests: 1,
      maxMillis: quick
    })),
  {
    name: "401 invalid_client via client_secret_basic (wrong secret)",
    mode: "socket",
    options: { clientSecret: Redacted.make(wrongSecret), authMethod: "client_secret_basic" },
    script: normal,
    expect: rejected("invalid_client", 401),
    tokenRequests: 1,
    maxMillis: quick,
    after: ({ server }) =>
      Effect.map(server.tokenRequests, ([request]) => {
        assert.strictEqual(request!.clientAuthMethod, "client_secret_basic")
        assert.strictEqual(request!.error, "invalid_client")
      })
  },
  {
    name: "401 invalid_client via client_secret_post (wrong secret)",
    mode: "socket",
    options: { clientSecret: Redacted.make(wrongSecret), authMethod: "client_secret_post" },
    script: normal,
    expect: rejected("invalid_client", 401),
    tokenRequests: 1,
    maxMillis: quick,
    after: ({ server }) =>
      Effect.map(server.tokenRequests, ([request]) => {
        assert.strictEqual(request!.clientAuthMethod, "client_secret_post")
        assert.strictEqual(request!.error, "invalid_client")
      })
  },
  {
    name: "400 invalid_scope (scope the client may not request)",
    mode: "socket",
    options: { scope: "admin" },
    script: normal,
    expect: rejected("invalid_scope"),
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "400 unknown error code",
    mode: "socket",
    script: once(FakeResponse.oauthError("vendor_specific_denial")),
    expect: rejected("vendor_specific_denial"),
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "401 without a body",
    mode: "socket",
    script: once(FakeResponse.raw({ status: 401 })),
    expect: rejected("invalid_client", 401),
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "a rejection is not retried by the next get within the cooldown",
    mode: "socket",
    script: always(FakeResponse.oauthError("invalid_client")),
    expect: rejected("invalid_client", 401),
    tokenRequests: 1,
    maxMillis: quick,
    after: ({ provider, server }) =>
      Effect.gen(function*() {
        for (let i = 0; i < 20; i++) yield* Effect.either(provider.get)
        assert.strictEqual(yield* server.tokenRequestCount, 1, "a hot loop does not hammer the server")
      })
  },

  // --- 5xx and 429 over sockets ---------------------------------------------------------------------
  ...([500, 502, 504] as const).map((status): Case => ({
    name: `${status} with an HTML body, every time`,
    mode: "socket",
    script: always(FakeResponse.serverError({ status, body: html(`${status}`), contentType: "text/html" })),
    expect: { _tag: "TokenServerError", status, attempts: 3 },
    tokenRequests: 3,
    maxMillis: quick
  })),
  {
    name: "503 without Retry-After, every time",
    mode: "socket",
    script: always(FakeResponse.unavailable()),
    expect: { _tag: "TokenServerError", status: 503, attempts: 3 },
    tokenRequests: 3,
    maxMillis: quick
  },
  {
    name: "fail 2 (500, 503) then succeed",
    mode: "socket",
    script: once(FakeResponse.serverError(), FakeResponse.unavailable()),
    expect: { _tag: "Success" },
    tokenRequests: 3,
    maxMillis: quick
  },
  {
    name: "429 with Retry-After: 0 then succeed",
    mode: "socket",
    script: once(FakeResponse.rateLimited({ retryAfter: 0 })),
    expect: { _tag: "Success" },
    tokenRequests: 2,
    maxMillis: quick
  },
  {
    name: "408 every time (a timeout, retried)",
    mode: "socket",
    script: always(FakeResponse.raw({ status: 408 })),
    expect: timeout(3),
    tokenRequests: 3,
    maxMillis: quick
  },
  {
    name: "404 with an HTML body",
    mode: "socket",
    script: once(FakeResponse.raw({ status: 404, headers: { "content-type": "text/html" }, body: html("Not Found") })),
    expect: invalid("UnexpectedStatus", 404),
    tokenRequests: 1,
    maxMillis: quick
  },

  // --- slow and broken exchanges over sockets (per-attempt timeout 1 s) ---------------------------
  {
    name: "delay 100 ms, below the per-attempt timeout",
    mode: "socket",
    script: once(FakeResponse.delay("100 millis")),
    expect: { _tag: "Success" },
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "delay 3 s every time, above the per-attempt timeout",
    mode: "socket",
    options: { retry: { ...socketRetry, maxAttempts: 2 } },
    script: always(FakeResponse.delay("3 seconds")),
    expect: timeout(2),
    tokenRequests: 2,
    maxMillis: 4000
  },
  {
    name: "hang every time",
    mode: "socket",
    options: { retry: { ...socketRetry, maxAttempts: 2 } },
    script: always(FakeResponse.hang()),
    expect: timeout(2),
    tokenRequests: 2,
    maxMillis: 4000
  },
  {
    name: "hang once then succeed",
    mode: "socket",
    script: once(FakeResponse.hang()),
    expect: { _tag: "Success" },
    tokenRequests: 2,
    maxMillis: 3000
  },
  ...([
    ["TCP reset", FakeResponse.resetConnection()],
    ["close without response", FakeResponse.closeWithoutResponse()],
    ["partial body", FakeResponse.partialBody()],
    ["non-HTTP garbage", FakeResponse.garbage()]
  ] as const).map(([name, fault]): Case => ({
    name: `${name}, every time`,
    mode: "socket",
    script: always(fault),
    expect: network(3),
    tokenRequests: 3,
    maxMillis: quick
  })),
  {
    name: "TCP reset once then succeed",
    mode: "socket",
    script: once(FakeResponse.resetConnection()),
    expect: { _tag: "Success" },
    tokenRequests: 2,
    maxMillis: quick
  },
  {
    name: "refused port",
    mode: "socket",
    target: "refused",
    script: normal,
    expect: network(3),
    tokenRequests: 0,
    maxMillis: quick
  },

  // --- redirects are never followed ---------------------------------------------------------------
  ...([[302, "undici"], [307, "undici"], [307, "fetch"], [308, "fetch"]] as const).map(([status, client]): Case => ({
    name: `${status} redirect over ${client} (not followed)`,
    mode: "socket",
    client,
    target: "redirect",
    script: (_, other) => once(FakeResponse.raw({ status, headers: { location: other } }))(),
    expect: invalid("UnexpectedStatus", status),
    tokenRequests: 1,
    maxMillis: quick
  })),

  // --- 200 answers that are not a usable token -------------------------------------------------------
  {
    name: "200 invalid JSON",
    mode: "socket",
    script: once(FakeResponse.malformed(`{"access_token": "${canaryToken}", `)),
    expect: invalid("InvalidJson"),
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 empty body",
    mode: "socket",
    script: once(FakeResponse.malformed("")),
    expect: invalid("InvalidJson"),
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 JSON array",
    mode: "socket",
    script: once(FakeResponse.malformed(`["${canaryToken}"]`)),
    expect: invalid("NotAnObject"),
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 with {\"error\": …}",
    mode: "socket",
    script: once(FakeResponse.malformed(JSON.stringify({ error: "invalid_scope", error_description: "nope" }))),
    expect: rejected("invalid_scope", 200),
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 without access_token",
    mode: "socket",
    script: once(FakeResponse.malformed(JSON.stringify({ token_type: "Bearer", expires_in: 300 }))),
    expect: invalid("MissingAccessToken"),
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 with a numeric access_token",
    mode: "socket",
    script: once(token({ access_token: 12345 })),
    expect: invalid("MissingAccessToken"),
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 with an access_token a header cannot carry",
    mode: "socket",
    script: once(token({ access_token: `${canaryToken}\r\nx-injected: 1` })),
    expect: invalid("InvalidAccessToken"),
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 token_type missing",
    mode: "socket",
    script: once(token({ token_type: undefined })),
    expect: invalid("MissingTokenType"),
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 token_type missing, assumeBearer",
    mode: "socket",
    options: { assumeBearer: true },
    script: once(token({ token_type: undefined })),
    expect: { _tag: "Success", tokenType: "Bearer" },
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 token_type \"bearer\"",
    mode: "socket",
    script: once(FakeResponse.token({ tokenType: "bearer" })),
    expect: { _tag: "Success", tokenType: "Bearer" },
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 token_type unknown (\"mac\")",
    mode: "socket",
    script: once(FakeResponse.token({ tokenType: "mac" })),
    expect: invalid("UnsupportedTokenType"),
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 expires_in missing (defaultExpiresIn)",
    mode: "socket",
    options: { defaultExpiresIn: "2 minutes" },
    script: once(FakeResponse.token({ omitExpiresIn: true })),
    expect: { _tag: "Success", lifetimeSeconds: 120 },
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 expires_in as a string",
    mode: "socket",
    script: once(FakeResponse.token({ expiresInAsString: true })),
    expect: { _tag: "Success", lifetimeSeconds: 300 },
    tokenRequests: 1,
    maxMillis: quick
  },
  ...([["0", 0], ["negative", -5], ["huge", 1e12], ["not numeric", "soon"]] as const).map(([name, value]): Case => ({
    name: `200 expires_in ${name}`,
    mode: "socket",
    script: once(token({ expires_in: value })),
    expect: invalid("InvalidExpiresIn"),
    tokenRequests: 1,
    maxMillis: quick
  })),
  {
    name: "200 wrong content type: an HTML page",
    mode: "socket",
    script: once(FakeResponse.malformed(html("Login"), { contentType: "text/html" })),
    expect: invalid("InvalidJson"),
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 wrong content type: JSON sent as text/plain (accepted)",
    mode: "socket",
    script: once(
      FakeResponse.malformed(JSON.stringify({ access_token: canaryToken, token_type: "Bearer", expires_in: 60 }), {
        contentType: "text/plain"
      })
    ),
    expect: { _tag: "Success", value: canaryToken, lifetimeSeconds: 60 },
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 form-encoded body (GitHub style, accepted)",
    mode: "socket",
    script: once(
      FakeResponse.malformed(`access_token=${canaryToken}&token_type=bearer&expires_in=60`, {
        contentType: "application/x-www-form-urlencoded"
      })
    ),
    expect: { _tag: "Success", value: canaryToken, tokenType: "Bearer", lifetimeSeconds: 60 },
    tokenRequests: 1,
    maxMillis: quick
  },
  {
    name: "200 with a 10 MB body (capped at 1 MiB)",
    mode: "socket",
    script: once(FakeResponse.malformed(`{"access_token":"${canaryToken}","pad":"${"x".repeat(10 * 1024 * 1024)}"}`)),
    expect: invalid("BodyTooLarge"),
    tokenRequests: 1,
    maxMillis: quick
  },

  // --- time under TestClock (in process) ---------------------------------------------------------------
  {
    name: "429 Retry-After: 2 (seconds) then succeed",
    mode: "virtual",
    script: once(FakeResponse.rateLimited({ retryAfter: 2 })),
    expect: { _tag: "Success" },
    tokenRequests: 2,
    minMillis: 2000,
    maxMillis: 2000
  },
  {
    name: "429 Retry-After as an HTTP-date (+3 s) then succeed",
    mode: "virtual",
    script: (now) => once(FakeResponse.rateLimited({ retryAfter: new Date(now + 3000) }))(),
    expect: { _tag: "Success" },
    tokenRequests: 2,
    minMillis: 2000,
    maxMillis: 3000
  },
  {
    name: "429 Retry-After as an HTTP-date in the past then succeed",
    mode: "virtual",
    script: (now) => once(FakeResponse.rateLimited({ retryAfter: new Date(now - 60_000) }))(),
    expect: { _tag: "Success" },
    tokenRequests: 2,
    maxMillis: 0
  },
  {
    name: "429 without Retry-After then succeed (backoff 200 ms)",
    mode: "virtual",
    script: once(FakeResponse.rateLimited()),
    expect: { _tag: "Success" },
    tokenRequests: 2,
    minMillis: 200,
    maxMillis: 200
  },
  {
    name: "429 Retry-After garbage then succeed (as if absent)",
    mode: "virtual",
    script: once(FakeResponse.rateLimited({ retryAfter: "soon, maybe" })),
    expect: { _tag: "Success" },
    tokenRequests: 2,
    minMillis: 200,
    maxMillis: 200
  },
  // Regression (issue #11): Date.parse's leniency read "1.5" as a date in 2001, so the wait became 0
  ...(["1.5", "2.5", "-1", "+5", "0.5", "5x", "1e1"] as const).map((retryAfter): Case => ({
    name: `429 Retry-After ${JSON.stringify(retryAfter)} then succeed (not an RFC 9110 form: backoff 200 ms)`,
    mode: "virtual",
    script: once(FakeResponse.rateLimited({ retryAfter })),
    expect: { _tag: "Success" },
    tokenRequests: 2,
    minMillis: 200,
    maxMillis: 200
  })),
  {
    name: "429 Retry-After absurdly large (a day): fails at once, cools down",
    mode: "virtual",
    script: once(FakeResponse.rateLimited({ retryAfter: 86_400 })),
    expect: { _tag: "TokenRateLimited", attempts: 1 },
    tokenRequests: 1,
    maxMillis: 0,
    after: ({ provider, server }) =>
      Effect.gen(function*() {
        // the cooldown is the Retry-After capped at maxRetryAfter (30 s): no request within it, one after
        for (let i = 0; i < 10; i++) yield* Effect.either(provider.get)
        yield* TestClock.adjust("29 seconds")
        assert.isTrue(Either.isLeft(yield* Effect.either(provider.get)))
        assert.strictEqual(yield* server.tokenRequestCount, 1)
        yield* TestClock.adjust("1 second")
        const later = yield* Effect.either(provider.get)
        if (Either.isLeft(later)) assert.fail(`after the cooldown: ${later.left.message}`)
        assert.strictEqual(yield* server.tokenRequestCount, 2)
      })
  },
  {
    name: "429 Retry-After: 1 every time",
    mode: "virtual",
    script: always(FakeResponse.rateLimited({ retryAfter: 1 })),
    expect: { _tag: "TokenRateLimited", attempts: 5 },
    tokenRequests: 5,
    minMillis: 4000,
    maxMillis: 4000
  },
  {
    name: "503 with Retry-After: 1 then succeed",
    mode: "virtual",
    script: once(FakeResponse.unavailable({ retryAfter: 1 })),
    expect: { _tag: "Success" },
    tokenRequests: 2,
    minMillis: 1000,
    maxMillis: 1000
  },
  {
    name: "503 with Retry-After absurdly large: fails at once",
    mode: "virtual",
    script: always(FakeResponse.unavailable({ retryAfter: 999_999 })),
    expect: { _tag: "TokenServerError", status: 503, attempts: 1 },
    tokenRequests: 1,
    maxMillis: 0
  },
  {
    name: "503 without Retry-After every time: exponential backoff 200, 400, 800, 1600 ms",
    mode: "virtual",
    script: always(FakeResponse.unavailable()),
    expect: { _tag: "TokenServerError", status: 503, attempts: 5 },
    tokenRequests: 5,
    minMillis: 3000,
    maxMillis: 3000
  },
  {
    name: "fail 3 (500) then succeed",
    mode: "virtual",
    script: once(FakeResponse.serverError(), FakeResponse.serverError(), FakeResponse.serverError()),
    expect: { _tag: "Success" },
    tokenRequests: 4,
    minMillis: 1400,
    maxMillis: 1400
  },
  {
    name: "backoff is capped by maxDelay",
    mode: "virtual",
    options: { retry: { jitter: false, maxAttempts: 6, maxDelay: "500 millis" } },
    script: always(FakeResponse.serverError()),
    expect: { _tag: "TokenServerError", status: 500, attempts: 6 },
    tokenRequests: 6,
    minMillis: 200 + 400 + 500 + 500 + 500,
    maxMillis: 200 + 400 + 500 + 500 + 500
  },
  {
    // attempts at 0, 10 and 20 s; a fourth would start at 30 s, past the budget, so none is made
    name: "503 Retry-After: 10 every time stops at the 30 s budget",
    mode: "virtual",
    options: { retry: { jitter: false, maxAttempts: 100 } },
    script: always(FakeResponse.unavailable({ retryAfter: 10 })),
    expect: { _tag: "TokenServerError", status: 503, attempts: 3 },
    tokenRequests: 3,
    maxMillis: 20_000
  },
  {
    name: "delay 9 s, below the 10 s per-attempt timeout",
    mode: "virtual",
    script: once(FakeResponse.delay("9 seconds")),
    expect: { _tag: "Success" },
    tokenRequests: 1,
    minMillis: 9000,
    maxMillis: 9000
  },
  {
    name: "delay 11 s every time, above the per-attempt timeout",
    mode: "virtual",
    options: { retry: { jitter: false, maxAttempts: 2 } },
    script: always(FakeResponse.delay("11 seconds")),
    expect: timeout(2),
    tokenRequests: 2,
    minMillis: 20_200,
    maxMillis: 20_200
  },
  {
    // Regression: the budget counts from the start of the fetch and no retry starts past it; with 10 s
    // timeouts and 200/400 ms backoff the third attempt is cut to the 9.4 s left.
    name: "hang every time: per-attempt timeouts within the 30 s budget",
    mode: "virtual",
    script: always(FakeResponse.hang()),
    expect: timeout(3),
    tokenRequests: 3,
    minMillis: 30_000,
    maxMillis: 30_000
  },
  {
    name: "hang once then succeed",
    mode: "virtual",
    script: once(FakeResponse.hang()),
    expect: { _tag: "Success" },
    tokenRequests: 2,
    minMillis: 10_200,
    maxMillis: 10_200
  },
  {
    name: "TCP reset twice then succeed (backoff 200, 400 ms)",
    mode: "virtual",
    script: once(FakeResponse.resetConnection(), FakeResponse.resetConnection()),
    expect: { _tag: "Success" },
    tokenRequests: 3,
    minMillis: 600,
    maxMillis: 600
  }
]

/** A loopback URL nobody listens on: bind a port, close it. */
export const refusedUrl: Effect.Effect<string> = Effect.async<string>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(`http://127.0.0.1:${port}/token`)))
  })
})

/** The HTTP client of socket cases: undici as `@oauth-cc/node-adapter` sets it up, or fetch. */
export const socketClient = (kind: "undici" | "fetch"): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> =>
  kind === "fetch"
    ? Effect.provide(HttpClient.HttpClient, FetchHttpClient.layer)
    : Effect.map(Effect.orDie(NodeTransport.makeDispatcher({ proxy: false })), NodeHttpClient.makeUndici)

/** Runs one case: the socket cases need the live clock, the virtual ones `TestClock`. */
export const run = (c: Case, sink?: Sink): Effect.Effect<Run, never, Scope.Scope> =>
  Effect.gen(function*() {
    const socket = c.mode === "socket"
    const server = socket
      ? yield* FakeAuthServer.make(serverOptions)
      : yield* FakeAuthServer.makeInProcess(serverOptions)
    const other = c.target === "redirect" ? yield* FakeAuthServer.make(serverOptions) : undefined
    const now = socket ? Date.now() : yield* TestClock.currentTimeMillis
    const script = c.script(now, other?.tokenUrl ?? "")
    if (script.enqueue !== undefined) yield* server.enqueue(...script.enqueue)
    if (script.always !== undefined) yield* server.always(script.always)
    const tokenUrl = c.target === "refused" ? yield* refusedUrl : server.tokenUrl
    const client = socket ? yield* socketClient(c.client ?? "undici") : server.httpClient
    const provider = yield* TokenProvider.make({ ...baseOptions(tokenUrl, c.mode), ...c.options }).pipe(
      Effect.provideService(HttpClient.HttpClient, client)
    )
    const get = sink === undefined ? provider.get : sink.observe(provider.get)
    let result: Either.Either<AccessToken.AccessToken, TokenError.TokenError>
    let millis: number
    if (socket) {
      const start = Date.now()
      result = yield* Effect.either(get)
      millis = Date.now() - start
    } else {
      const fiber = yield* Effect.fork(Effect.timed(Effect.either(get)))
      // one virtual second at a time, so that the run ends (and `after` starts) within a second of the outcome
      let exit = Option.none<Exit.Exit<readonly [Duration.Duration, typeof result]>>()
      for (let step = 0; step <= 600 && Option.isNone(exit); step++) {
        yield* TestClock.adjust(step === 0 ? 0 : 1000)
        exit = yield* Fiber.poll(fiber)
      }
      if (Option.isNone(exit)) {
        yield* Fiber.interrupt(fiber)
        return yield* Effect.dieMessage(`${c.name}: get still running after 10 virtual minutes (a hang)`)
      }
      const [duration, either] = yield* Effect.orDie(exit.value)
      result = either
      millis = Duration.toMillis(duration)
    }
    if (sink !== undefined) {
      if (Either.isLeft(result)) sink.error(c.name, result.left)
      for (const t of yield* server.issued) sink.addCanary(Redacted.value(t.value))
    }
    return { result, millis, server, provider, other }
  })

/** Checks the outcome, the journal and the time of a run. */
export const verify = (c: Case, r: Run): Effect.Effect<void> =>
  Effect.gen(function*() {
    const e = c.expect
    if (e._tag === "Success") {
      if (Either.isLeft(r.result)) assert.fail(`expected a token, got ${r.result.left._tag}: ${r.result.left.message}`)
      const t = r.result.right
      if (e.tokenType !== undefined) assert.strictEqual(t.tokenType, e.tokenType)
      if (e.lifetimeSeconds !== undefined) assert.strictEqual(t.expiresAt - t.issuedAt, e.lifetimeSeconds * 1000)
      if (e.value !== undefined) assert.strictEqual(Redacted.value(t.value), e.value)
    } else {
      if (Either.isRight(r.result)) assert.fail(`expected ${e._tag}, got a token`)
      const error = r.result.left as unknown as Record<string, unknown>
      for (const [key, value] of Object.entries(e)) assert.strictEqual(error[key], value, `${e._tag}.${key}`)
    }
    assert.strictEqual(yield* r.server.tokenRequestCount, c.tokenRequests, "token requests")
    assert.isAtMost(r.millis, c.maxMillis, "time taken")
    if (c.minMillis !== undefined) assert.isAtLeast(r.millis, c.minMillis, "time taken")
    if (r.other !== undefined) {
      assert.strictEqual((yield* r.other.requests).length, 0, "the redirect target got no request")
    }
    // the secret never travels in a URL
    for (const request of yield* r.server.requests) {
      assert.notInclude(request.path, "secret", request.path)
      assert.notInclude(request.path, encodeURIComponent(canarySecret), request.path)
    }
    if (c.after !== undefined) yield* c.after(r)
  })
