import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Stream from "effect/Stream"

/** The inner response of each `CallerResponse`: out of reach of enumeration and of any rendering. */
const innerResponses = new WeakMap<object, HttpClientResponse.HttpClientResponse>()

/** @internal */
export const innerOf = (self: object): HttpClientResponse.HttpClientResponse =>
  innerResponses.get(self) ?? (self as HttpClientResponse.HttpClientResponse)

/**
 * The response as the caller sees it: `request` is the caller's own request, not the one that carried
 * the token (@effect/platform renders a request's headers, `Authorization` included, in `inspect` and
 * `JSON.stringify` of responses and errors). Everything else is the response itself, which is held in a
 * module `WeakMap`, never in a field: `util.inspect` with `showHidden`, without `customInspect`, or of
 * `{ ...response }` finds nothing that leads to the authorized request.
 */
class CallerResponse implements HttpClientResponse.HttpClientResponse {
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly [IncomingMessage.TypeId]: IncomingMessage.TypeId = IncomingMessage.TypeId
  constructor(
    response: HttpClientResponse.HttpClientResponse,
    readonly request: HttpClientRequest.HttpClientRequest
  ) {
    innerResponses.set(this, response)
  }
  get status() {
    return innerOf(this).status
  }
  get headers() {
    return innerOf(this).headers
  }
  get cookies() {
    return innerOf(this).cookies
  }
  get remoteAddress() {
    return innerOf(this).remoteAddress
  }
  // The body readers of the inner response build their errors from the request that carried the token:
  // each error is rebuilt around the caller's request (and this response).
  get formData() {
    return Effect.mapError(innerOf(this).formData, (error) => callerError(this, error))
  }
  get text() {
    return Effect.mapError(innerOf(this).text, (error) => callerError(this, error))
  }
  get json() {
    return Effect.mapError(innerOf(this).json, (error) => callerError(this, error))
  }
  get urlParamsBody() {
    return Effect.mapError(innerOf(this).urlParamsBody, (error) => callerError(this, error))
  }
  get arrayBuffer() {
    return Effect.mapError(innerOf(this).arrayBuffer, (error) => callerError(this, error))
  }
  get stream() {
    return Stream.mapError(innerOf(this).stream, (error) => callerError(this, error))
  }
  toJSON(): unknown {
    const json = innerOf(this).toJSON()
    return { ...(typeof json === "object" && json !== null ? json : {}), request: this.request.toJSON() }
  }
  toString(): string {
    return Inspectable.format(this.toJSON())
  }
  [Inspectable.NodeInspectSymbol](): unknown {
    return this.toJSON()
  }
}

const callerError = (self: CallerResponse, error: HttpClientError.ResponseError): HttpClientError.ResponseError =>
  new HttpClientError.ResponseError({
    request: self.request,
    response: self,
    reason: error.reason,
    cause: error.cause,
    ...(error.description === undefined ? {} : { description: error.description })
  })

/** @internal */
export const withCallerRequest = (
  response: HttpClientResponse.HttpClientResponse,
  request: HttpClientRequest.HttpClientRequest
): HttpClientResponse.HttpClientResponse => new CallerResponse(response, request)

/** The same for errors: an `HttpClientError` never carries the authorized request. @internal */
export const errorWithCallerRequest = <E>(error: E, request: HttpClientRequest.HttpClientRequest): E => {
  if (!HttpClientError.isHttpClientError(error)) return error
  if (error._tag === "RequestError") {
    return new HttpClientError.RequestError({
      request,
      reason: error.reason,
      cause: error.cause,
      ...(error.description === undefined ? {} : { description: error.description })
    }) as E
  }
  return new HttpClientError.ResponseError({
    request,
    response: withCallerRequest(error.response, request),
    reason: error.reason,
    cause: error.cause,
    ...(error.description === undefined ? {} : { description: error.description })
  }) as E
}
