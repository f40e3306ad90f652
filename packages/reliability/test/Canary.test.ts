/**
 * Secret canary: the fault matrix and the demo flows run with a canary secret and canary token values
 * (scripted, and every token the server issued), capturing every log line (Debug), every span with its
 * attributes, events and exit, every error in every rendering, and the `oauth-cc` CLI's stdout/stderr.
 * The canaries must appear 0 times.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { AuthorizedHttpClient, TokenProvider } from "@oauth-cc/core"
import { FakeAuthServer, FakeResponse } from "@oauth-cc/testkit"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { canarySecret, canaryToken, clientId, renderings, secretForms, Sink, wrongSecret } from "./support/canary.js"
import { baseOptions, cases, refusedUrl, run, serverOptions, socketClient } from "./support/matrix.js"

const sink = new Sink()
const figures: Array<string> = []
afterAll(() => {
  for (const line of figures) console.log(line)
})

const registerIssued = (server: FakeAuthServer.Service) =>
  Effect.map(server.issued, (tokens) => tokens.forEach((t) => sink.addCanary(Redacted.value(t.value))))

/** Runs `self`, keeping its error (if any) for the scan. */
const capture = <A, E, R>(where: string, self: Effect.Effect<A, E, R>) =>
  sink.observe(self).pipe(Effect.tapError((error) => Effect.sync(() => sink.error(where, error))))

const bin = Path.resolve(import.meta.dirname, "../../node-adapter/bin/oauth-cc.mjs")

interface CliRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the CLI with only the given env (plus PATH and HOME); bounded by a 60 s kill. */
const cli = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.async<CliRun>((resume) => {
    const child = ChildProcess.execFile(
      process.execPath,
      [bin, ...args],
      {
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
        timeout: 60_000,
        maxBuffer: 16 * 1024 * 1024
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
        resume(Effect.succeed({ code, stdout, stderr }))
      }
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("secret canary", () => {
  describe("fault matrix flows", () => {
    for (const c of cases) {
      const test = c.mode === "socket" ? it.scopedLive : it.scoped
      test(`[${c.mode}] ${c.name}`, () =>
        Effect.gen(function*() {
          const r = yield* run(c, sink)
          // a successful get is used once more from the cache, under observation too
          if (Either.isRight(r.result)) yield* capture(c.name, r.provider.get)
        }))
    }
  })

  describe("demo flows", () => {
    it.scopedLive("a token, then 1,000 concurrent authorized calls over sockets", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make(serverOptions)
        const client = yield* socketClient("undici")
        const provider = yield* TokenProvider.make(baseOptions(server.tokenUrl, "socket")).pipe(
          Effect.provideService(HttpClient.HttpClient, client)
        )
        const authorized = AuthorizedHttpClient.authorize(client, provider)
        yield* capture("demo token", provider.get)
        const statuses = yield* capture(
          "demo 1,000 calls",
          Effect.forEach(
            Array.from({ length: 1000 }, (_, i) => i),
            (i) => Effect.map(authorized.get(`${server.resourceUrl}/items/${i}`), (r) => r.status),
            { concurrency: "unbounded" }
          )
        )
        assert.isTrue(statuses.every((s) => s === 200))
        assert.strictEqual(yield* server.tokenRequestCount, 1)
        yield* registerIssued(server)
      }), 60_000)

    it.scopedLive("429 waited out (Retry-After: 1)", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make(serverOptions)
        yield* server.enqueue(FakeResponse.rateLimited({ retryAfter: 1 }))
        const provider = yield* TokenProvider.make(baseOptions(server.tokenUrl, "socket")).pipe(
          Effect.provideService(HttpClient.HttpClient, yield* socketClient("undici"))
        )
        yield* capture("429 waited out", provider.get)
        assert.strictEqual(yield* server.tokenRequestCount, 2)
        yield* registerIssued(server)
      }))

    it.scoped("refresh-ahead: a background refresh while callers keep the current token", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.makeInProcess({ ...serverOptions, tokenTtl: "300 seconds" })
        const provider = yield* TokenProvider.make(baseOptions(server.tokenUrl, "virtual")).pipe(
          Effect.provideService(HttpClient.HttpClient, server.httpClient)
        )
        const first = yield* capture("refresh-ahead first", provider.get)
        yield* TestClock.adjust("200 seconds") // past 0.8 × (300 − 60) = 192 s
        const second = yield* capture("refresh-ahead second", provider.get)
        assert.strictEqual(Redacted.value(second.value), Redacted.value(first.value))
        yield* TestClock.adjust("1 second")
        const third = yield* capture("refresh-ahead third", provider.get)
        assert.notStrictEqual(Redacted.value(third.value), Redacted.value(first.value))
        assert.strictEqual(yield* server.tokenRequestCount, 2)
        yield* registerIssued(server)
      }))

    it.scopedLive("a token revoked on the server, recovered by the 401 handling", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make(serverOptions)
        const client = yield* socketClient("undici")
        const provider = yield* TokenProvider.make(baseOptions(server.tokenUrl, "socket")).pipe(
          Effect.provideService(HttpClient.HttpClient, client)
        )
        const authorized = AuthorizedHttpClient.authorize(client, provider)
        const token = yield* capture("revoked", provider.get)
        yield* server.revoke(token)
        const response = yield* capture("revoked request", authorized.get(server.resourceUrl))
        assert.strictEqual(response.status, 200)
        assert.strictEqual(yield* server.resource401Count, 1)
        yield* registerIssued(server)
      }))

    it.scoped("a server that echoes the secret in its error answers", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.makeInProcess(serverOptions)
        const provider = yield* TokenProvider.make({
          ...baseOptions(server.tokenUrl, "virtual"),
          failureCooldown: "0 millis"
        }).pipe(Effect.provideService(HttpClient.HttpClient, server.httpClient))
        // (the base64 Basic credentials are the BUG case below)
        for (const form of secretForms(canarySecret).filter((f) => !/^[A-Za-z0-9+/]+=*$/.test(f))) {
          yield* server.enqueue(
            FakeResponse.oauthError(`bad_${form}`, {
              description: `got secret ${form}`,
              uri: `https://x.test/?s=${form}`
            })
          )
          const fiber = yield* Effect.fork(Effect.either(capture("echo", provider.get)))
          yield* TestClock.adjust("1 second")
          const result = yield* Fiber.join(fiber)
          assert.isTrue(Either.isLeft(result))
        }
      }))
  })

  describe("oauth-cc CLI", { timeout: 120_000 }, () => {
    it.scopedLive("token, request and failures: no canary on stdout or stderr (-v)", () =>
      Effect.gen(function*() {
        const server = yield* FakeAuthServer.make(serverOptions)
        const env = { OAUTH_TOKEN_URL: server.tokenUrl, OAUTH_CLIENT_ID: clientId, OAUTH_CLIENT_SECRET: canarySecret }
        const runs: Array<readonly [string, CliRun]> = []
        const record = (name: string, r: CliRun) => {
          runs.push([name, r])
          sink.text(`cli ${name} stderr`, r.stderr)
        }

        // `token` prints the token on stdout (its job): the secret must not be there, nor anything on stderr
        const token = yield* cli(["token", "-v"], env)
        assert.strictEqual(token.code, 0, token.stderr)
        record("token", token)
        sink.text(
          "cli token stdout (the token is its output; the secret must not be)",
          token.stdout.replace(/\S+/g, (w) => w === token.stdout.trim() ? "<token>" : w)
        )

        const request = yield* cli(["request", "-v", "-i", `${server.resourceUrl}/cli`], env)
        assert.strictEqual(request.code, 0, request.stderr)
        record("request", request)
        sink.text("cli request stdout", request.stdout)

        yield* server.enqueue(FakeResponse.oauthError("invalid_client", { description: `echo ${canarySecret}` }))
        const rejected = yield* cli(["token", "-v"], env)
        assert.strictEqual(rejected.code, 3, rejected.stderr)
        record("rejected", rejected)
        sink.text("cli rejected stdout", rejected.stdout)

        const wrong = yield* cli(["token", "-v", "--auth-method", "client_secret_post"], {
          ...env,
          OAUTH_CLIENT_SECRET: wrongSecret
        })
        assert.strictEqual(wrong.code, 3, wrong.stderr)
        record("wrong secret", wrong)
        sink.text("cli wrong secret stdout", wrong.stdout)

        yield* server.always(FakeResponse.resetConnection())
        const broken = yield* cli(["token", "-v"], env)
        assert.strictEqual(broken.code, 6, broken.stderr)
        record("reset", broken)
        sink.text("cli reset stdout", broken.stdout)
        yield* server.reset
        yield* registerIssued(server)
        assert.isAbove(runs.length, 4)
      }))
  })

  // Regression (found by the fuzz suite): a server that echoes the Authorization header in `error` /
  // `error_description` (some proxies and WAFs do) must not put the Basic credentials (base64 of `id:secret`,
  // trivially decoded) into TokenRequestRejected.
  it.scoped("a server echoing the Basic credentials: the base64 credentials are masked too", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.makeInProcess(serverOptions)
      const provider = yield* TokenProvider.make(baseOptions(server.tokenUrl, "virtual")).pipe(
        Effect.provideService(HttpClient.HttpClient, server.httpClient)
      )
      const basic = secretForms(canarySecret).find((form) => /^[A-Za-z0-9+/]+=*$/.test(form))!
      yield* server.enqueue(
        FakeResponse.oauthError("invalid_request", { description: `malformed header: Authorization: Basic ${basic}` })
      )
      const error = yield* Effect.flip(provider.get)
      assert.notInclude(error.message, basic)
      assert.notInclude(JSON.stringify(error), basic)
    }))

  // Regression: @effect/platform renders a request's headers in String/JSON/inspect of its errors outside
  // Effect loggers (console.error, error trackers); the errors of AuthorizedHttpClient carry the caller's
  // request, never the one with `authorization: Bearer <token>`.
  it.scopedLive("a failed authorized request: the error does not show the bearer token", () =>
    Effect.gen(function*() {
      const server = yield* FakeAuthServer.make(serverOptions)
      const client = yield* socketClient("undici")
      const provider = yield* TokenProvider.make(baseOptions(server.tokenUrl, "socket")).pipe(
        Effect.provideService(HttpClient.HttpClient, client)
      )
      const token = Redacted.value((yield* provider.get).value)
      const authorized = AuthorizedHttpClient.authorize(client, provider)
      // a port nobody listens on: the request fails with a RequestError after the header was set
      const url = (yield* refusedUrl).replace("/token", "/resource")
      const error = yield* Effect.flip(authorized.get(url))
      for (const text of renderings(error)) assert.notInclude(text, token)
    }))

  it("0 canaries in everything captured", () => {
    const { hits, items } = sink.scan()
    figures.push(
      `canary: ${hits.length} hits in ${items.toLocaleString("en-US")} lines/spans/errors/outputs ` +
        `(${sink.logs.length} log lines, ${sink.spans.length} spans, ${sink.errors.length} errors, ` +
        `${sink.texts.length} CLI outputs; ${sink.canaries.size} canary values)`
    )
    const where = new Map<string, number>()
    for (const hit of hits) where.set(`${hit.where} ${hit.canary}`, (where.get(`${hit.where} ${hit.canary}`) ?? 0) + 1)
    if (where.size > 0) console.log([...where].slice(0, 20))
    assert.deepStrictEqual([...where].slice(0, 20), [])
    assert.isAbove(sink.logs.length, 50)
    assert.isAbove(sink.spans.length, 100)
    assert.isAbove(sink.errors.length, 40)
    assert.isAtLeast(sink.canaries.size, 20)
    void canaryToken
  })
})
