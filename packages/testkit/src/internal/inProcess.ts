import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as FakeResponse from "../FakeResponse.js"
import { type Outcome, partialBody, type ServerState } from "./handler.js"

const transportError = (request: HttpClientRequest.HttpClientRequest, description: string, cause?: unknown) =>
  new HttpClientError.RequestError({ request, reason: "Transport", description, cause })

const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

/** The bytes of a request body and the content type they imply. */
const bodyOf = (
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<
  { readonly bytes: Uint8Array | undefined; readonly contentType?: string },
  HttpClientError.RequestError
> => {
  const body = request.body
  switch (body._tag) {
    case "Empty":
      return Effect.succeed({ bytes: undefined })
    case "Uint8Array":
      return Effect.succeed({ bytes: body.body })
    case "Raw":
    case "FormData": {
      const source = body._tag === "Raw" ? body.body : body.formData
      if (typeof source === "string") return Effect.succeed({ bytes: new TextEncoder().encode(source) })
      if (source instanceof Uint8Array) return Effect.succeed({ bytes: source })
      return Effect.tryPromise({
        try: async () => {
          const web = new Response(source as ConstructorParameters<typeof Response>[0])
          const bytes = new Uint8Array(await web.arrayBuffer())
          const contentType = web.headers.get("content-type")
          return contentType === null ? { bytes } : { bytes, contentType }
        },
        catch: (cause) => transportError(request, "could not read the request body", cause)
      })
    }
    case "Stream":
      return Stream.runCollect(body.stream).pipe(
        Effect.map((chunks) => ({ bytes: concat(Chunk.toReadonlyArray(chunks)) })),
        Effect.mapError((cause) => transportError(request, "could not read the request body", cause))
      )
  }
}

const faultDescription: Record<Exclude<FakeResponse.FaultName, "hang" | "partialBody">, string> = {
  resetConnection: "the connection was reset (ECONNRESET)",
  closeWithoutResponse: "the server closed the connection without a response (socket hang up)",
  garbage: "the server sent bytes that are not HTTP (parse error)"
}

const nullBodyStatus = new Set([101, 103, 204, 205, 304])

const toResponse = (
  request: HttpClientRequest.HttpClientRequest,
  outcome: Outcome
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError> => {
  if (outcome._tag === "Respond") {
    return Effect.try({
      try: () =>
        HttpClientResponse.fromWeb(
          request,
          new Response(nullBodyStatus.has(outcome.status) ? null : outcome.body, {
            status: outcome.status,
            headers: outcome.headers
          })
        ),
      catch: (cause) =>
        transportError(request, `the fake server cannot send status ${outcome.status} in process`, cause)
    })
  }
  switch (outcome.fault) {
    case "hang":
      return Effect.never
    case "partialBody": {
      let sent = false
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) {
            controller.error(new Error("the connection closed before the body was complete"))
          } else {
            sent = true
            controller.enqueue(new TextEncoder().encode(partialBody.sent))
          }
        }
      })
      return Effect.succeed(
        HttpClientResponse.fromWeb(
          request,
          new Response(stream, { status: partialBody.status, headers: partialBody.headers })
        )
      )
    }
    default:
      return Effect.fail(transportError(request, faultDescription[outcome.fault]))
  }
}

/**
 * An `HttpClient` that hands requests for `host` to the state's handler in the calling fiber, without
 * sockets. The handler reads `clock` when given (a socket server's wall clock), else the fiber's `Clock`. Other hosts fail with a transport error.
 *
 * @internal
 */
export const makeClient = (state: ServerState, host: string, clock?: Clock.Clock): HttpClient.HttpClient =>
  HttpClient.make((request, url) =>
    Effect.gen(function*() {
      if (url.host !== host) {
        return yield* Effect.fail(
          transportError(request, `the in-process FakeAuthServer serves ${host} only, not ${url.host}`)
        )
      }
      const body = yield* bodyOf(request)
      const tooLarge = body.bytes !== undefined && body.bytes.length > state.maxBodyBytes
      const headers: Record<string, string> = { ...request.headers }
      if (body.contentType !== undefined) headers["content-type"] = body.contentType
      const handled = state.handle({
        method: request.method,
        path: url.pathname + url.search,
        headers,
        body: tooLarge ? undefined : body.bytes,
        bodyTooLarge: tooLarge
      })
      const outcome = yield* (clock === undefined ? handled : Effect.withClock(handled, clock))
      return yield* toResponse(request, outcome)
    })
  )
