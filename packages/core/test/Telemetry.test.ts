/**
 * What an operator sees through OpenTelemetry (`@effect/opentelemetry` with in-memory exporters): span,
 * metric and attribute names, units, and the operator logs at their levels; and that none of them carries
 * the client secret, its Basic encoding, a query value or the token.
 */
import * as OtelMetrics from "@effect/opentelemetry/Metrics"
import * as OtelResource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { assert, describe, it } from "@effect/vitest"
import type { ResourceMetrics } from "@opentelemetry/sdk-metrics"
import { MetricReader } from "@opentelemetry/sdk-metrics"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestClock from "effect/TestClock"
import { basicCredentials } from "../src/internal/clientSecretBasic.js"
import * as TokenProvider from "../src/TokenProvider.js"
import { baseOptions, canarySecret, httpServer, sendJson } from "./utils.js"

const canaryToken = "tok-CANARY-5e1f"
const canaryQuery = "q-CANARY-77aa"
const secrets = [canarySecret, canaryToken, canaryQuery, basicCredentials(baseOptions.clientId, canarySecret, "form")]

class TestReader extends MetricReader {
  protected onShutdown() {
    return Promise.resolve()
  }
  protected onForceFlush() {
    return Promise.resolve()
  }
}

interface Line {
  readonly level: string
  readonly text: string
}

const capture = (lines: Array<Line>) =>
  Layer.merge(
    Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ annotations, logLevel, message }) => {
        const parts = Array.isArray(message) ? message : [message]
        lines.push({
          level: logLevel.label,
          text: [...parts.map(String), ...Array.from(annotations, ([k, v]) => `${k}=${String(v)}`)].join(" ")
        })
      })
    ),
    Logger.minimumLogLevel(LogLevel.Debug)
  )

const otel = (exporter: InMemorySpanExporter, reader: MetricReader) =>
  Layer.mergeAll(
    Layer.provide(
      OtelTracer.layer,
      Layer.succeed(
        OtelTracer.OtelTracerProvider,
        new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
      )
    ),
    OtelMetrics.layer(() => reader)
  ).pipe(Layer.provideMerge(OtelResource.layer({ serviceName: "oauth-cc-test" })))

const metricsOf = (collected: ResourceMetrics) => collected.scopeMetrics.flatMap((scope) => scope.metrics)

const assertNoSecret = (text: string, where: string) => {
  for (const secret of secrets) assert.notInclude(text, secret, where)
}

const assertSpansClean = (spans: ReadonlyArray<ReadableSpan>) => {
  for (const span of spans) {
    assertNoSecret(JSON.stringify(span.attributes), `attributes of ${span.name}`)
    assertNoSecret(JSON.stringify(span.events), `events of ${span.name}`)
    assertNoSecret(JSON.stringify(span.status), `status of ${span.name}`)
  }
}

describe("OpenTelemetry", () => {
  it.scopedLive(
    "spans, metrics (names, units, attributes) and logs of a 429 with Retry-After and an invalid_client",
    () =>
      Effect.gen(function*() {
        const exporter = new InMemorySpanExporter()
        const reader = new TestReader()
        const lines: Array<Line> = []
        let a = 0
        const server = yield* httpServer((request, response) => {
          if (request.url?.startsWith("/a/token")) {
            a++
            return a === 1
              ? sendJson(response, 429, `{"error":"slow_down"}`, { "retry-after": "1" })
              : sendJson(
                response,
                200,
                JSON.stringify({ access_token: canaryToken, token_type: "Bearer", expires_in: 3600 })
              )
          }
          sendJson(response, 401, `{"error":"invalid_client","error_description":"unknown client"}`)
        })
        const port = Number(new URL(server.url).port)
        const tokenUrl = `${server.url}/a/token?tenant=${canaryQuery}`

        const { resourceMetrics } = yield* Effect.gen(function*() {
          const good = yield* TokenProvider.make({ ...baseOptions, tokenUrl })
          const bad = yield* TokenProvider.make({ ...baseOptions, tokenUrl: `${server.url}/b/token` })
          const token = yield* good.get
          assert.strictEqual(token.tokenType, "Bearer")
          assert.isTrue(Exit.isFailure(yield* Effect.exit(bad.get)))
          return yield* Effect.promise(() => reader.collect())
        }).pipe(
          Effect.scoped,
          Effect.provide(FetchHttpClient.layer),
          Effect.provide(Layer.merge(otel(exporter, reader), capture(lines)))
        )

        // spans
        const spans = exporter.getFinishedSpans()
        const attempts = spans.filter((s) => s.name === "oauth-cc.token.attempt")
        const ours = attempts.filter((s) => s.attributes["server.port"] === port)
        assert.strictEqual(ours.length, 3, spans.map((s) => s.name).join(", "))
        const [limited, ok, rejected] = ours
        assert.deepStrictEqual(
          {
            method: limited.attributes["http.request.method"],
            address: limited.attributes["server.address"],
            url: limited.attributes["url.full"],
            status: limited.attributes["http.response.status_code"],
            error: limited.attributes["error.type"],
            attempt: limited.attributes["oauth.attempt"]
          },
          {
            method: "POST",
            address: "127.0.0.1",
            url: `${server.url}/a/token?tenant=REDACTED`,
            status: 429,
            error: "429",
            attempt: 1
          }
        )
        assert.strictEqual(ok.attributes["http.response.status_code"], 200)
        assert.strictEqual(ok.attributes["oauth.attempt"], 2)
        assert.isUndefined(ok.attributes["error.type"])
        assert.strictEqual(rejected.attributes["error.type"], "401")
        assert.strictEqual(rejected.attributes["url.full"], `${server.url}/b/token`)
        const fetches = spans.filter((s) => s.name === "oauth-cc.token.fetch")
        assert.deepStrictEqual(fetches.map((s) => s.attributes["oauth.outcome"]), ["success", "TokenRequestRejected"])
        assert.strictEqual(fetches[0].attributes["oauth.attempts"], 2)
        assert.isTrue(ours.every((s) => fetches.some((f) => f.spanContext().spanId === s.parentSpanContext?.spanId)))
        assertSpansClean(spans)

        // metrics
        const metrics = metricsOf(resourceMetrics)
        const byName = (name: string) => {
          const metric = metrics.find((m) => m.descriptor.name === name)
          assert.isDefined(metric, name)
          return metric!
        }
        for (const name of metrics.map((m) => m.descriptor.name).filter((n) => n.startsWith("oauth_cc"))) {
          assert.notMatch(name, /_total$|_ms$|_seconds$/, name)
        }
        assert.strictEqual(byName("http.client.request.duration").descriptor.unit, "s")
        assert.strictEqual(byName("oauth_cc.token.fetch.duration").descriptor.unit, "s")
        assert.strictEqual(byName("oauth_cc.token.requests").descriptor.unit, "{request}")
        assert.strictEqual(byName("oauth_cc.token.fetches").descriptor.unit, "{fetch}")
        assert.strictEqual(byName("oauth_cc.token.cache.lookups").descriptor.unit, "{lookup}")
        const points = byName("http.client.request.duration").dataPoints.filter((p) =>
          p.attributes["server.port"] === String(port)
        )
        const summary = points.map((p) => ({
          method: p.attributes["http.request.method"],
          address: p.attributes["server.address"],
          status: p.attributes["http.response.status_code"],
          error: p.attributes["error.type"],
          count: (p.value as { count: number }).count
        })).sort((x, y) => String(x.status).localeCompare(String(y.status)))
        assert.deepStrictEqual(summary, [
          { method: "POST", address: "127.0.0.1", status: "200", error: undefined, count: 1 },
          { method: "POST", address: "127.0.0.1", status: "401", error: "401", count: 1 },
          { method: "POST", address: "127.0.0.1", status: "429", error: "429", count: 1 }
        ])
        // seconds, not milliseconds: the fetch that waited the 1 s Retry-After lasted at least 1 and under 30; each
        // of its two requests lasted at least 1 less than it (the wait is between them, in no request)
        const fetchMax = Math.max(
          ...byName("oauth_cc.token.fetch.duration").dataPoints.map((p) => (p.value as { max?: number }).max ?? 0)
        )
        assert.isAtLeast(fetchMax, 1)
        assert.isBelow(fetchMax, 30)
        for (const point of points.filter((p) => p.attributes["http.response.status_code"] !== "401")) {
          assert.isAtMost((point.value as { sum: number }).sum, fetchMax - 1)
        }
        assertNoSecret(JSON.stringify(metrics), "metrics")

        // logs
        const at = (level: string) => lines.filter((l) => l.level === level).map((l) => l.text)
        assert.isTrue(at("INFO").some((t) => t.includes("Retry-After") && t.includes("1s")), at("INFO").join("\n"))
        assert.isTrue(
          at("ERROR").some((t) => t.includes("invalid_client") && t.includes("client-1")),
          at("ERROR").join("\n")
        )
        assert.isTrue(at("WARN").some((t) => t.includes("cooldown")), at("WARN").join("\n"))
        assert.isTrue(at("DEBUG").some((t) => t.includes("attempt 1 failed")))
        for (const line of lines) assertNoSecret(line.text, `log line ${line.text}`)
      }),
    20_000
  )

  it.scoped("a failed refresh serves the cached token with a Warning; no log line holds the token or secret", () =>
    Effect.gen(function*() {
      const lines: Array<Line> = []
      let n = 0
      const server = yield* httpServer((_, response) => {
        n++
        return n === 1
          ? sendJson(
            response,
            200,
            JSON.stringify({ access_token: canaryToken, token_type: "Bearer", expires_in: 3600 })
          )
          : sendJson(response, 400, `{"error":"invalid_scope"}`)
      })
      yield* Effect.gen(function*() {
        const provider = yield* TokenProvider.make({ ...baseOptions, tokenUrl: `${server.url}/token` })
        yield* provider.get
        // past the refresh skew (60 s before expiry), not expired
        yield* TestClock.adjust("3570 seconds")
        // five callers wait for one failing fetch: each gets the cached token, one Warning says so
        const stale = yield* Effect.all(Array.from({ length: 5 }, () => provider.get), { concurrency: "unbounded" })
        assert.isTrue(stale.every((token) => token.tokenType === "Bearer"))
        assert.strictEqual(n, 2)
      }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer), Effect.provide(capture(lines)))
      const warnings = lines.filter((l) => l.level === "WARN").map((l) => l.text)
      const served = warnings.filter((t) => t.includes("refresh failed") && t.includes("serving the cached token"))
      assert.strictEqual(served.length, 1, warnings.join("\n"))
      assert.include(served[0], "expires in 30s")
      assert.isTrue(warnings.some((t) => t.includes("cooldown")), warnings.join("\n"))
      for (const line of lines) assertNoSecret(line.text, `log line ${line.text}`)
    }))
})
