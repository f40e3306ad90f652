/**
 * Canary values and a capture of everything a run shows: log lines (a Debug `Logger`), spans with their
 * attributes, events and exits (a `Tracer`), and errors in every rendering. `Sink.scan` counts what it
 * looked at and every place a canary appears.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Tracer from "effect/Tracer"
import { inspect } from "node:util"

/** The client secret of every reliability run; characters that form- and percent-encoding change. */
export const canarySecret = "CANARY-s3cr3t+/=&%-91f0c2"

/** A secret the client sends that the server does not accept (invalid_client flows). */
export const wrongSecret = "CANARY-wr0ng+secret-4d2e"

/** An access token value the server is scripted to send. */
export const canaryToken = "CANARY-tok3n-5be7a91c"

export const clientId = "reliability-client"

const formEncode = (value: string): string => new URLSearchParams([["", value]]).toString().slice(1)

/** Every form a secret travels in: raw, form-encoded, percent-encoded, and inside Basic credentials. */
export const secretForms = (secret: string, id = clientId): ReadonlyArray<string> =>
  Array.from(
    new Set([
      secret,
      formEncode(secret),
      encodeURIComponent(secret),
      Buffer.from(`${formEncode(id)}:${formEncode(secret)}`).toString("base64"),
      Buffer.from(`${id}:${secret}`).toString("base64")
    ])
  )

/** Every way a value can be shown. */
export const renderings = (u: unknown): ReadonlyArray<string> => [
  String(u),
  safeJson(u),
  inspect(u, { depth: 12, showHidden: false }),
  u instanceof Error ? `${u.message}\n${u.stack ?? ""}` : ""
]

const safeJson = (u: unknown): string => {
  try {
    return JSON.stringify(u) ?? ""
  } catch (e) {
    return `<unserialisable: ${String(e)}>`
  }
}

export interface Hit {
  readonly where: string
  readonly canary: string
}

/** What a run showed, and the canaries to look for in it. */
export class Sink {
  readonly logs: Array<string> = []
  readonly spans: Array<{
    readonly name: string
    readonly attributes: Map<string, unknown>
    readonly events: Array<unknown>
    exit: unknown
  }> = []
  readonly errors: Array<{ readonly where: string; readonly error: unknown }> = []
  readonly texts: Array<{ readonly where: string; readonly text: string }> = []
  readonly canaries = new Set<string>([...secretForms(canarySecret), ...secretForms(wrongSecret), canaryToken])

  addCanary(value: string): void {
    if (value.length >= 8) this.canaries.add(value)
  }

  readonly tracer: Tracer.Tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const record: Sink["spans"][number] = { name, attributes: new Map(), events: [], exit: undefined }
      this.spans.push(record)
      return {
        _tag: "Span",
        name,
        spanId: Math.random().toString(16).slice(2),
        traceId: "reliability",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes: record.attributes,
        links,
        sampled: true,
        kind,
        // what an exporter records of the exit: the error of a failure (a success's value is not exported)
        end: (_endTime, exit) => {
          record.exit = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        },
        attribute: (key, value) => void record.attributes.set(key, value),
        event: (eventName, _time, attributes) => void record.events.push([eventName, attributes]),
        addLinks: () => {}
      }
    },
    context: (f) => f()
  })

  readonly logger: Logger.Logger<unknown, void> = Logger.make(({ annotations, cause, logLevel, message, spans }) => {
    this.logs.push(
      inspect({ level: logLevel.label, message, cause, annotations: [...annotations], spans: [...spans] }, {
        depth: 12
      })
    )
  })

  /** Runs `self` with this sink's tracer and a Debug logger. */
  observe<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return self.pipe(
      Effect.withTracer(this.tracer),
      Effect.provide(Logger.replace(Logger.defaultLogger, this.logger)),
      Logger.withMinimumLogLevel(LogLevel.Debug)
    )
  }

  error(where: string, error: unknown): void {
    this.errors.push({ where, error })
  }

  text(where: string, text: string): void {
    this.texts.push({ where, text })
  }

  /** Every item looked at, and every canary found in one. */
  scan(): { readonly items: number; readonly hits: ReadonlyArray<Hit> } {
    const hits: Array<Hit> = []
    let items = 0
    const check = (where: string, texts: ReadonlyArray<string>) => {
      items++
      for (const text of texts) {
        for (const canary of this.canaries) {
          if (text.includes(canary)) hits.push({ where, canary: `${canary.slice(0, 10)}…` })
        }
      }
    }
    this.logs.forEach((line, i) => check(`log line ${i}`, [line]))
    for (const span of this.spans) {
      check(`span ${span.name}`, [
        span.name,
        inspect([...span.attributes], { depth: 12 }),
        inspect(span.events, { depth: 12 }),
        ...renderings(span.exit)
      ])
    }
    for (const { error, where } of this.errors) check(`error ${where}`, renderings(error))
    for (const { text, where } of this.texts) check(where, [text])
    return { items, hits }
  }
}
