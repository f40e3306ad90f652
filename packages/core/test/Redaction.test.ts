import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import { inspect } from "node:util"
import * as AccessToken from "../src/AccessToken.js"
import * as ClientCredentials from "../src/ClientCredentials.js"
import { cacheCounter, fetchCounter } from "../src/internal/telemetry.js"
import * as TokenError from "../src/TokenError.js"
import * as TokenProvider from "../src/TokenProvider.js"
import { baseOptions, canarySecret, fakeClient, type Reply } from "./utils.js"

const canaryToken = "tok-CANARY-beef"

/** Every way a value can be shown: none of them may contain a canary. */
const renderings = (u: unknown): ReadonlyArray<string> => [
  String(u),
  JSON.stringify(u) ?? "",
  inspect(u, { depth: 10 }),
  u instanceof Error ? `${u.message}\n${u.stack}` : ""
]

const assertClean = (u: unknown, what: string) => {
  for (const text of renderings(u)) {
    assert.notInclude(text, canarySecret, what)
    assert.notInclude(text, canaryToken, what)
  }
}

interface Captured {
  readonly logs: Array<string>
  readonly spans: Array<{ name: string; attributes: Map<string, unknown>; events: Array<unknown> }>
}

const capture = (): Captured & { readonly tracer: Tracer.Tracer; readonly logger: Logger.Logger<unknown, void> } => {
  const logs: Array<string> = []
  const spans: Captured["spans"] = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const attributes = new Map<string, unknown>()
      const events: Array<unknown> = []
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: Math.random().toString(16).slice(2),
        traceId: "t",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes,
        links,
        sampled: true,
        kind,
        end: () => {},
        attribute: (k, v) => void attributes.set(k, v),
        event: (n, _t, a) => void events.push([n, a]),
        addLinks: () => {}
      }
      spans.push({ name, attributes, events })
      return span
    },
    context: (f) => f()
  })
  const logger = Logger.make(({ annotations, cause, message }) => {
    logs.push(inspect({ message, cause, annotations: [...annotations] }, { depth: 10 }))
  })
  return { logs, spans, tracer, logger }
}

const faults: ReadonlyArray<Reply> = [
  { body: { access_token: canaryToken, token_type: "Bearer", expires_in: 1 } },
  { status: 400, body: { error: "invalid_request", error_description: `echo ${canarySecret}` } },
  { status: 401, body: { error: "invalid_client" } },
  { status: 429, headers: { "retry-after": "1" } },
  { status: 503 },
  { status: 500, body: `<html>${canarySecret}</html>` },
  { status: 302, headers: { location: `https://x.test/?secret=${canarySecret}` } },
  { body: `{"access_token": "${canaryToken}"` },
  { body: { access_token: canaryToken, token_type: "mac" } },
  { body: { access_token: canaryToken, token_type: canarySecret } },
  { body: { access_token: canaryToken, token_type: "Bearer", expires_in: -1 } },
  { body: { access_token: canaryToken, token_type: "Bearer", expires_in: canarySecret } },
  { body: { error: canarySecret } }
]

describe("redaction", () => {
  it.effect("options, secrets and tokens never show their values", () =>
    Effect.sync(() => {
      assertClean(baseOptions, "options")
      assertClean(AccessToken.make({ value: canaryToken, issuedAt: 0, expiresAt: 1 }), "token")
      const config = ClientCredentials.validate(baseOptions)
      assertClean(config, "validated options")
    }))

  it.effect("the Authorization header is redacted by @effect/platform", () =>
    Effect.gen(function*() {
      const names = yield* FiberRef.get(Headers.currentRedactedNames)
      const headers = Headers.fromInput({ authorization: `Bearer ${canaryToken}` })
      assert.isTrue(names.includes("authorization"))
      assertClean(Headers.redact(headers, names), "headers")
    }))

  it.scoped("no error, log line, span or span attribute carries the secret or a token, whatever the server answers", () => {
    const captured = capture()
    return Effect.gen(function*() {
      let i = 0
      for (const fault of faults) {
        const fake = fakeClient(() => fault)
        const provider = yield* TokenProvider.make({
          ...baseOptions,
          authMethod: i++ % 2 === 0 ? "client_secret_basic" : "client_secret_post",
          retry: { maxAttempts: 2, jitter: false }
        }).pipe(Effect.provideService(HttpClient.HttpClient, fake.client))
        const fiber = yield* Effect.fork(Effect.either(provider.get))
        yield* TestClock.adjust("5 seconds")
        const result = yield* Effect.flatten(Effect.map(Effect.succeed(fiber), (f) => f.await))
        if (result._tag === "Success" && result.value._tag === "Left") {
          const error = result.value.left
          assert.isTrue(TokenError.isTokenError(error))
          assertClean(error, `error ${error._tag}`)
        }
      }
      for (const line of captured.logs) assertClean(line, "log line")
      for (const span of captured.spans) {
        assertClean(span.name, "span name")
        for (const [k, v] of span.attributes) assertClean(String(v), `span attribute ${k} of ${span.name}`)
        assertClean(inspect(span.events), `span events of ${span.name}`)
      }
      assert.isAbove(captured.spans.length, 10)
      assert.isAbove(captured.logs.length, 5)
    }).pipe(
      Effect.withTracer(captured.tracer),
      Effect.provide(Logger.replace(Logger.defaultLogger, captured.logger)),
      Logger.withMinimumLogLevel(LogLevel.Debug)
    )
  })
})

describe("credentials read from a source", () => {
  const rotatedCanary = "r0tated-CANARY-cafe"
  const assertionCanary = "eyJ-ASSERTION-CANARY.payload.sig"
  it.scoped("neither a rotated secret nor an assertion from a source shows in an error, log line or span", () => {
    const captured = capture()
    return Effect.gen(function*() {
      let secret = canarySecret
      const sources = [
        { clientSecret: Effect.sync(() => Redacted.make(secret)), authMethod: "client_secret_post" as const },
        { clientSecret: Effect.sync(() => Redacted.make(secret)), authMethod: "client_secret_basic" as const },
        { clientAssertion: { source: Effect.succeed(Redacted.make(assertionCanary)) } }
      ]
      // the server echoes the whole request body and headers back, in every kind of answer
      const echoes = (seen: { readonly body: string; readonly headers: Readonly<Record<string, string>> }) => {
        const echo = `${seen.body} ${JSON.stringify(seen.headers)}`
        return [
          { status: 400, body: { error: "invalid_request", error_description: echo } },
          { status: 401, body: { error: "invalid_client", error_description: echo } },
          { status: 500, body: `<html>${echo}</html>` },
          { body: { access_token: canaryToken, token_type: echo } }
        ]
      }
      for (const source of sources) {
        for (let i = 0; i < 4; i++) {
          secret = canarySecret
          const fake = fakeClient((seen) => {
            secret = rotatedCanary
            return echoes(seen)[i]!
          })
          const provider = yield* TokenProvider.make({
            tokenUrl: baseOptions.tokenUrl,
            clientId: baseOptions.clientId,
            ...source,
            retry: { maxAttempts: 2, jitter: false }
          }).pipe(Effect.provideService(HttpClient.HttpClient, fake.client))
          const fiber = yield* Effect.fork(Effect.flip(provider.get))
          yield* TestClock.adjust("5 seconds")
          const error = yield* Fiber.join(fiber)
          for (const text of renderings(error)) {
            for (const canary of [canarySecret, rotatedCanary, assertionCanary]) assert.notInclude(text, canary)
          }
        }
      }
      const all = [
        ...captured.logs,
        ...captured.spans.flatMap((span) => [
          span.name,
          ...[...span.attributes.values()].map(String),
          inspect(span.events)
        ])
      ]
      for (const text of all) {
        for (const canary of [canarySecret, rotatedCanary, assertionCanary]) assert.notInclude(text, canary)
      }
      assert.isAbove(captured.logs.length, 5)
    }).pipe(
      Effect.withTracer(captured.tracer),
      Effect.provide(Logger.replace(Logger.defaultLogger, captured.logger)),
      Logger.withMinimumLogLevel(LogLevel.Debug)
    )
  })
})

describe("observability", () => {
  it.scoped("spans token fetches and gets, with endpoint host, client id, attempts and outcome", () =>
    Effect.gen(function*() {
      const captured = capture()
      const fake = fakeClient((_, n) =>
        n === 1 ? { status: 503 } : { body: { access_token: canaryToken, token_type: "Bearer" } }
      )
      const program = Effect.gen(function*() {
        const provider = yield* TokenProvider.make({ ...baseOptions, retry: { jitter: false } }).pipe(
          Effect.provideService(HttpClient.HttpClient, fake.client)
        )
        const fiber = yield* Effect.fork(provider.get)
        yield* TestClock.adjust("1 second")
        yield* fiber.await
        yield* provider.get
      })
      yield* program.pipe(
        Effect.withTracer(captured.tracer),
        Effect.provide(Logger.replace(Logger.defaultLogger, captured.logger)),
        Logger.withMinimumLogLevel(LogLevel.Debug)
      )
      const fetch = captured.spans.find((s) => s.name === "oauth-cc.token.fetch")
      assert.isDefined(fetch)
      assert.strictEqual(fetch!.attributes.get("oauth.token_endpoint.host"), "auth.example.test")
      assert.strictEqual(fetch!.attributes.get("oauth.client_id"), "client-1")
      assert.strictEqual(fetch!.attributes.get("oauth.attempts"), 2)
      assert.strictEqual(fetch!.attributes.get("oauth.outcome"), "success")
      assert.strictEqual(captured.spans.filter((s) => s.name === "oauth-cc.token.attempt").length, 2)
      const get = captured.spans.find((s) => s.name === "oauth-cc.token.get")
      assert.strictEqual(get?.attributes.get("oauth.cache"), "miss")
      assert.isTrue(captured.logs.some((l) => l.includes("attempt 1 failed")))
      for (const span of captured.spans) assertClean(inspect([...span.attributes]), span.name)
      for (const line of captured.logs) assertClean(line, "log")
    }))

  it.scoped("counts fetches by outcome and cache hits and misses", () =>
    Effect.gen(function*() {
      const hits = Metric.tagged(cacheCounter, "result", "hit")
      const before = (yield* Metric.value(hits)).count
      const fake = fakeClient(() => ({ body: { access_token: "x", token_type: "Bearer" } }))
      const provider = yield* TokenProvider.make(baseOptions).pipe(
        Effect.provideService(HttpClient.HttpClient, fake.client)
      )
      for (let i = 0; i < 10; i++) yield* provider.get
      const after = (yield* Metric.value(hits)).count
      assert.strictEqual(after - before, 9)
      const success = Metric.tagged(fetchCounter, "outcome", "success")
      assert.isAtLeast((yield* Metric.value(success)).count, 1)
    }))
})
