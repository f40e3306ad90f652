import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TokenError from "../TokenError.js"
import type { Scrub } from "./scrub.js"
import * as Telemetry from "./telemetry.js"
import * as TransportFailure from "./transportFailure.js"

/** A complete answer: status, headers and the whole body as text. @internal */
export interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

const concatBytes = (chunks: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.length
  }
  return bytes
}

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max)}…` : text)

const readBody = (response: HttpClientResponse.HttpClientResponse, cap: number) =>
  Stream.runFoldEffect(
    response.stream,
    { size: 0, chunks: Chunk.empty<Uint8Array>() },
    (acc, chunk) => {
      const size = acc.size + chunk.length
      return size > cap
        ? Effect.fail(
          new TokenError.TokenResponseInvalid({
            status: response.status,
            reason: "BodyTooLarge",
            detail: `the body is over ${cap} bytes`
          })
        )
        : Effect.succeed({ size, chunks: Chunk.append(acc.chunks, chunk) })
    }
  ).pipe(
    Effect.map(({ chunks, size }) => new TextDecoder().decode(concatBytes(Chunk.toReadonlyArray(chunks), size)))
  )

/** fetch follows redirects unless told not to (undici's client never does); other init options are kept. */
const noRedirects = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    Effect.serviceOption(FetchHttpClient.RequestInit),
    (init) =>
      Effect.provideService(self, FetchHttpClient.RequestInit, {
        ...Option.getOrElse(init, () => ({})),
        redirect: "manual"
      })
  )

const describeCause = (cause: unknown): string => {
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code
    const inner = (cause as { cause?: unknown }).cause
    const base = typeof code === "string" ? `${code} ${cause.message}` : cause.message
    return inner instanceof Error && inner.message !== cause.message ? `${base} (${describeCause(inner)})` : base
  }
  return String(cause)
}

const transportError = (error: HttpClientError.HttpClientError, scrub: Scrub) => {
  // certificates, client certificates and proxy credentials are terminal: retrying meets the same refusal
  const terminal = TransportFailure.classify(error.cause)
  return new TokenError.TokenTransportError({
    reason: terminal?.reason ?? "Network",
    detail: terminal?.detail ?? clip(scrub(`${error.reason}: ${describeCause(error.cause ?? error.message)}`), 300),
    attempts: 1
  })
}

/** @internal */
export interface SendOptions {
  readonly maxResponseBytes: number
  readonly requestTimeoutMillis: number
}

/**
 * Sends one request and reads the whole answer (up to `maxResponseBytes`) within the per-attempt
 * timeout, without following redirects. The transport of token and metadata requests alike: a
 * failure is a `TokenTransportError` (or `BodyTooLarge`) that each caller words for its own request.
 *
 * @internal
 */
export const send = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  options: SendOptions,
  scrub: Scrub
): Effect.Effect<RawResponse, TokenError.TokenError> =>
  client.execute(request).pipe(
    Effect.flatMap((response) =>
      Effect.zipRight(
        Effect.annotateCurrentSpan("http.response.status_code", response.status),
        Effect.map(readBody(response, options.maxResponseBytes), (body) => ({
          status: response.status,
          headers: response.headers,
          body
        }))
      )
    ),
    // The platform's generic span records every response header; a token endpoint's answer is no place
    // for that (a misbehaving server may echo credentials), so the attempt span is the only one.
    Effect.locally(HttpClient.currentTracerDisabledWhen, () => true),
    noRedirects,
    Effect.catchTags({
      RequestError: (error) => Effect.fail(transportError(error, scrub)),
      ResponseError: (error) => Effect.fail(transportError(error, scrub))
    }),
    Effect.scoped,
    Effect.timeoutFail({
      duration: options.requestTimeoutMillis,
      onTimeout: () =>
        new TokenError.TokenTransportError({
          reason: "Timeout",
          detail: `no complete answer within ${Duration.format(Duration.millis(options.requestTimeoutMillis))}`,
          attempts: 1
        })
    }),
    Telemetry.trackRequest(request)
  )
