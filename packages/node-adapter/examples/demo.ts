/**
 * `pnpm demo`: the library against a fake authorization server started in this process, on loopback.
 * No env vars, no network, a few seconds. Each step says what happened, from the server's journal.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { AuthorizedHttpClient, TokenProvider } from "@oauth-cc/core"
import { FakeAuthServer, FakeResponse } from "@oauth-cc/testkit"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { NodeAuthorizedHttpClient } from "../src/index.js"

const started = performance.now()
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`
const say = (text: string) =>
  Effect.sync(() => console.log(`[${seconds(performance.now() - started).padStart(7)}] ${text}`))
const heading = (text: string) => Effect.sync(() => console.log(`\n${text}`))
const sleep = (ms: number) => Effect.sleep(`${Math.max(0, ms)} millis`)

const program = (server: FakeAuthServer.Service) =>
  Effect.gen(function*() {
    const client = yield* AuthorizedHttpClient.AuthorizedHttpClient
    const provider = yield* TokenProvider.TokenProvider
    const tokenRequests = server.tokenRequests
    const resource = (path: string) =>
      Effect.flatMap(
        client.get(`${server.resourceUrl}${path}`),
        (response) => Effect.as(response.text, response.status)
      )

    // 1. A token, through a 429 and a 503 -------------------------------------------------------
    yield* heading("1. Get a token. The server is scripted to answer 429 (Retry-After: 1) and then 503 first.")
    yield* server.enqueue(FakeResponse.rateLimited({ retryAfter: 1 }), FakeResponse.unavailable())
    const token = yield* provider.get
    const attempts = yield* tokenRequests
    for (const [i, record] of attempts.entries()) {
      const wait = i === 0 ? "" : ` after waiting ${seconds(record.time - attempts[i - 1]!.time)}`
      yield* say(`token request ${i + 1}${wait}: HTTP ${record.outcome} (${record.response})`)
    }
    yield* say(
      `got a ${token.tokenType} token: ${String(token.value)} (${Redacted.value(token.value).length} chars, ` +
        `Redacted so logs never show it), valid for ${seconds(token.expiresAt - token.issuedAt)}`
    )

    // 2. 1,000 concurrent calls on a cold cache ------------------------------------------------
    yield* heading("2. Clear the cache, then make 1,000 concurrent calls to the protected resource.")
    yield* provider.invalidate()
    const before = (yield* tokenRequests).length
    const t0 = performance.now()
    const statuses = yield* Effect.forEach(Array.from({ length: 1000 }, (_, i) => i), (i) => resource(`/items/${i}`), {
      concurrency: "unbounded"
    })
    const ok = statuses.filter((status) => status === 200).length
    yield* say(`${ok} of 1000 answered 200 in ${seconds(performance.now() - t0)}`)
    yield* say(`token requests caused: ${(yield* tokenRequests).length - before} (all callers shared one fetch)`)

    // 3. Refresh-ahead across expiry ------------------------------------------------------------
    yield* heading("3. Switch to a token that lives 1 s, then call every 50 ms until past its expiry.")
    yield* server.enqueue(FakeResponse.token({ expiresIn: 1 }))
    const current = yield* provider.refresh
    const beforeRefresh = (yield* tokenRequests).length
    let slowestGet = 0
    let calls = 0
    while (Date.now() < current.expiresAt + 200) {
      const g0 = performance.now()
      yield* provider.get
      slowestGet = Math.max(slowestGet, performance.now() - g0)
      yield* resource("/tick")
      calls++
      yield* sleep(50)
    }
    const refreshes = (yield* tokenRequests).slice(beforeRefresh)
    for (const record of refreshes) {
      yield* say(`background refresh at ${seconds(record.time - current.issuedAt)} into the token's life`)
    }
    const fresh = yield* provider.get
    const changed = Redacted.value(fresh.value) !== Redacted.value(current.value)
    yield* say(`${calls} calls across the expiry, all on a valid token; the token was replaced: ${changed}`)
    yield* say(`slowest provider.get: ${slowestGet.toFixed(1)} ms, so no caller waited for the refresh`)

    // 4. A token revoked on the server ----------------------------------------------------------
    yield* heading("4. Revoke the current token on the server, then call the resource.")
    yield* server.revoke(yield* provider.get)
    const before401 = yield* server.resource401Count
    const beforeRevoke = (yield* tokenRequests).length
    const status = yield* resource("/after-revoke")
    yield* say(
      `answered ${status}: the 401 (${(yield* server.resource401Count) - before401}) invalidated the token, ` +
        `${(yield* tokenRequests).length - beforeRevoke} token request fetched a new one, the call was replayed once`
    )

    // The journal ---------------------------------------------------------------------------------
    const all = yield* tokenRequests
    const retried = all.filter((r) => r.outcome === 429 || (typeof r.outcome === "number" && r.outcome >= 500))
    const rows: ReadonlyArray<readonly [string, string | number]> = [
      ["token requests", all.length],
      ["  of which answered 429 / 5xx and retried", retried.length],
      ["resource requests", yield* server.resourceRequestCount],
      ["resource 401s (each replayed once)", yield* server.resource401Count],
      ["resource requests without a token", yield* server.unauthenticatedResourceRequests],
      ["wall time", seconds(performance.now() - started)]
    ]
    yield* heading("From the server's journal:")
    const width = Math.max(...rows.map(([name]) => name.length))
    for (const [name, value] of rows) console.log(`  ${name.padEnd(width)}  ${String(value).padStart(7)}`)
  })

const main = Effect.gen(function*() {
  const server = yield* FakeAuthServer.make({ tokenTtl: "5 minutes" })
  yield* say(`fake authorization server on ${server.issuer} (client ${FakeAuthServer.defaultClient.id})`)
  yield* program(server).pipe(
    Effect.provide(NodeAuthorizedHttpClient.layer({
      tokenUrl: server.tokenUrl,
      clientId: FakeAuthServer.defaultClient.id,
      clientSecret: Redacted.make(FakeAuthServer.defaultClient.secret),
      refreshSkew: "300 millis",
      retry: { baseDelay: "100 millis" },
      // loopback only: ignore any HTTPS_PROXY of the machine
      proxy: false
    }))
  )
}).pipe(Effect.scoped)

NodeRuntime.runMain(main)
