import * as Headers from "@effect/platform/Headers"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Stream from "effect/Stream"
import * as AccessToken from "../AccessToken.js"
import type * as AuthorizedHttpClient from "../AuthorizedHttpClient.js"
import * as DPoP from "../DPoP.js"
import type * as TokenError from "../TokenError.js"
import * as TokenProvider from "../TokenProvider.js"
import { errorWithCallerRequest, innerOf, withCallerRequest } from "./callerResponse.js"
import { isLoopback } from "./clientCredentials.js"
import * as Monotonic from "./monotonic.js"
import { insufficientScope, makeAcceptedTokens, makeRefusalBudget } from "./tokenRefusals.js"

/** A request can be sent again when its body is in memory. @internal */
export const isReplayable = (request: HttpClientRequest.HttpClientRequest): boolean => {
  const body = request.body
  switch (body._tag) {
    case "Empty":
    case "Uint8Array":
    case "FormData":
      return true
    case "Raw":
      return typeof body.body === "string" || body.body instanceof Uint8Array
    case "Stream":
      return false
  }
}

/**
 * Whether a bearer token may go to `url` (RFC 6750 §5.3): `https:`, or `http:` on a loopback host
 * (127.0.0.0/8, `[::1]`, `localhost`, as for the token endpoint; not `*.localhost`, which Node resolves through DNS). A relative URL is judged once the client has made it absolute.
 *
 * @internal
 */
export const bearerAllowed = (url: string): boolean => {
  if (url.startsWith("https://")) return true
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return true
  }
  if (parsed.protocol === "https:") return true
  return parsed.protocol === "http:" && isLoopback(parsed)
}

/** The refusal, around the caller's request (never one holding the token). @internal */
export const insecureRefusal = (request: HttpClientRequest.HttpClientRequest): HttpClientError.RequestError =>
  new HttpClientError.RequestError({
    request: HttpClientRequest.modify(request, { headers: Headers.remove(request.headers, "authorization") }),
    reason: "InvalidUrl",
    description: "refusing to send a bearer token over plain http to a host that is not loopback (RFC 6750 §5.3); " +
      "use https, or set allowInsecureHttp"
  })

const originOfUrl = (url: string): string => {
  try {
    return new URL(url).origin
  } catch {
    return ""
  }
}

const redirectStatuses = new Set([301, 302, 303, 307, 308])

/**
 * The request a redirect asks for (RFC 9110 §15.4), or `undefined` to return the answer as it is: not a
 * redirect, no usable `Location`, not `http(s):`, or a 307/308 of a body that cannot be sent again. 303 (and
 * 301/302 of a POST) become a GET without body, as in `fetch`.
 *
 * @internal
 */
export const redirectOf = (
  response: HttpClientResponse.HttpClientResponse,
  request: HttpClientRequest.HttpClientRequest
): HttpClientRequest.HttpClientRequest | undefined => {
  if (!redirectStatuses.has(response.status)) return undefined
  const location = response.headers["location"]
  if (location === undefined) return undefined
  let url: URL
  try {
    url = new URL(location, innerOf(response).request.url)
  } catch {
    return undefined
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined
  url.hash = ""
  const toGet = (response.status === 303 && request.method !== "HEAD") ||
    ((response.status === 301 || response.status === 302) && request.method === "POST")
  if (toGet) {
    return HttpClientRequest.setUrl(
      HttpClientRequest.modify(request, {
        method: "GET",
        body: HttpBody.empty,
        headers: Headers.remove(request.headers, ["content-type", "content-length"])
      }),
      url
    )
  }
  return isReplayable(request) ? HttpClientRequest.setUrl(request, url) : undefined
}

/** Reads and discards the refused answer's body (bounded), so its connection can serve the replay. */
const drain = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void> =>
  response.stream.pipe(Stream.take(64), Stream.runDrain, Effect.timeout("1 second"), Effect.ignore)

/** @internal */
export const authorizeWith = <E, R, R2>(
  self: HttpClient.HttpClient.With<E, R>,
  provider: TokenProvider.Service | Effect.Effect<TokenProvider.Service, never, R2>,
  options?: AuthorizedHttpClient.Options
): HttpClient.HttpClient.With<E | TokenError.TokenError | HttpClientError.RequestError, R | R2> => {
  const retryOn401 = options?.retryOn401 ?? true
  const insecure = options?.allowInsecureHttp === true
  // the URL the wrapped client really sends to (after its own `prependUrl` and the like) is checked
  // once the header is set, before anything is sent
  const inner: HttpClient.HttpClient.With<E | HttpClientError.RequestError, R> = insecure
    ? self
    : HttpClient.mapRequestEffect(
      self,
      (request) => bearerAllowed(request.url) ? Effect.succeed(request) : Effect.fail(insecureRefusal(request))
    )
  const params = options?.params
  const get = (provider: TokenProvider.Service) => params === undefined ? provider.get : provider.getFor(params)
  /**
   * One request with `token`; its response and error carry the caller's request. `onResponse` sees the
   * raw response: a single `matchEffect` keeps the per-request cost to one step.
   */
  const send = <A, E2, R3>(
    request: HttpClientRequest.HttpClientRequest,
    token: AccessToken.AccessToken,
    onResponse: (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, E2, R3>,
    proofer?: DPoP.Proofer | undefined
  ) =>
    token.tokenType === "N_A" ?
      // a token exchange's answer that is not an access token (RFC 8693 §2.2.1) authorizes nothing
      Effect.fail(
        new HttpClientError.RequestError({
          request,
          reason: "Encode",
          description: "the token is not an access token (token_type N_A, RFC 8693 §2.2.1); nothing was sent"
        })
      ) :
      proofer !== undefined && token.tokenType === "DPoP" ?
      sendDPoP(request, token, onResponse, proofer) :
      Effect.matchEffect(
        inner.execute(HttpClientRequest.setHeader(request, "authorization", AccessToken.authorizationHeader(token))),
        {
          onFailure: (error) => Effect.fail(errorWithCallerRequest(error, request)),
          onSuccess: onResponse
        }
      )
  /** The last `DPoP-Nonce` each resource origin gave (RFC 9449 §8.2, §9). */
  const nonces = DPoP.makeNonceStore()
  /**
   * A DPoP-bound token goes as `Authorization: DPoP <token>` with a fresh proof (RFC 9449 §7.1): `ath` of the
   * token, `htm`, `htu` of the URL really sent (after the wrapped client's own `prependUrl`), a new `jti`, the
   * origin's nonce if known. `dpop` is among the redacted header names while it is sent, and errors carry the
   * caller's request, so the proof shows nowhere.
   */
  const sendDPoP = <A, E2, R3>(
    request: HttpClientRequest.HttpClientRequest,
    token: AccessToken.AccessToken,
    onResponse: (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, E2, R3>,
    proofer: DPoP.Proofer
  ) =>
    Effect.matchEffect(
      HttpClient.mapRequestEffect(inner, (sent) =>
        Effect.mapError(
          DPoP.setProof(sent, { proofer, nonces, accessToken: token.value }),
          (error) => new HttpClientError.RequestError({ request, reason: "InvalidUrl", description: error.message })
        )).execute(
          HttpClientRequest.setHeader(request, "authorization", AccessToken.authorizationHeader(token))
        ).pipe(DPoP.withRedactedProofHeader),
      {
        onFailure: (error) => Effect.fail(errorWithCallerRequest(error, request)),
        onSuccess: (response) =>
          Option.match(DPoP.nonceFromHeaders(response.headers), {
            onNone: () => onResponse(response),
            onSome: (nonce) => Effect.zipRight(nonces.set(response.request.url, nonce), onResponse(response))
          })
      }
    )
  /** The replay's answer, as it is; whether it was refused again tells what the origin's 401s mean. */
  const replayAnswer =
    (request: HttpClientRequest.HttpClientRequest, fresh: AccessToken.AccessToken) =>
    (response: HttpClientResponse.HttpClientResponse) =>
      Effect.sync(() => {
        const origin = originOfUrl(response.request.url)
        if (response.status === 401) accepted.replayed(origin, true)
        else {
          accepted.replayed(origin, false)
          accepted.accept(origin, fresh)
        }
        return withCallerRequest(response, request)
      })
  /**
   * A token counts as accepted only by the origin that accepted it: a 401 from origin O for a token O accepted
   * before is a revocation, any other 401 a refusal (budgeted). An origin whose 401 was followed by a refused
   * replay with a fresh token answers 401 whatever the token: its 401s are refusals too, until a replay passes.
   */
  const accepted = makeAcceptedTokens()
  const refusals = makeRefusalBudget()
  /**
   * The server refused `token`. A token it accepted before was revoked: drop it. A token it never
   * accepted is dropped at most once per refusal window, so a resource that refuses every token cannot
   * turn requests into token requests. Dropped only if it is still the cached one.
   */
  const refused = (provider: TokenProvider.Service, token: AccessToken.AccessToken, origin: string) =>
    Effect.clockWith((clock) =>
      accepted.revoked(origin, token) || refusals.take(Monotonic.unsafeMillis(clock))
        ? provider.invalidate(token, params)
        : Effect.void
    )
  const run = (provider: TokenProvider.Service, request: HttpClientRequest.HttpClientRequest) =>
    Effect.flatMap(
      get(provider),
      (token) =>
        send(request, token, function handle(response, nonceReplayed = false): Effect.Effect<
          HttpClientResponse.HttpClientResponse,
          E | TokenError.TokenError | HttpClientError.RequestError,
          R
        > {
          // RFC 9449 §9: the resource wants a nonce. The token is fine: replayed once with a proof carrying the
          // nonce (kept by `sendDPoP`), without dropping the token.
          if (
            !nonceReplayed && provider.dpop !== undefined && token.tokenType === "DPoP" &&
            Option.isSome(DPoP.resourceNonce(response)) && isReplayable(request)
          ) {
            return Effect.zipRight(
              drain(response),
              send(request, token, (replayed) => handle(replayed, true), provider.dpop)
            ).pipe(Effect.withSpan("oauth-cc.authorized.dpop-nonce"))
          }
          const origin = originOfUrl(response.request.url)
          if (response.status !== 401) {
            accepted.accept(origin, token)
            return Effect.succeed(withCallerRequest(response, request))
          }
          if (!retryOn401 || insufficientScope(response.headers)) {
            return Effect.succeed(withCallerRequest(response, request))
          }
          // drop the refused token (see `refused`), so later requests get a fresh one even when this
          // request cannot be replayed
          const invalidate = refused(provider, token, origin)
          if (!isReplayable(request)) return Effect.as(invalidate, withCallerRequest(response, request))
          return Effect.zipRight(invalidate, get(provider)).pipe(
            Effect.flatMap((fresh) =>
              // the refused token was kept: no replay with it (a token fetched since is used, though)
              AccessToken.isSameValue(fresh, token)
                ? Effect.succeed(withCallerRequest(response, request))
                : Effect.zipRight(drain(response), send(request, fresh, replayAnswer(request, fresh), provider.dpop))
            ),
            Effect.withSpan("oauth-cc.authorized.retry-401")
          )
        }, provider.dpop)
    )
  const maxRedirects = Math.max(0, Math.floor(options?.followRedirects ?? 0))
  /**
   * Redirects followed here, each hop checked like a first request: a hop to `http:` on a host that is not
   * loopback is refused before it is sent (unless `allowInsecureHttp`); the token (and its DPoP proof) goes only
   * to hops on the first request's origin, and never again once a hop has left it; a hop to another origin is
   * sent by the wrapped client without `Authorization`, as `fetch` does.
   */
  const follow = (provider: TokenProvider.Service, request: HttpClientRequest.HttpClientRequest) => {
    const loop = (
      hop: HttpClientRequest.HttpClientRequest,
      hops: number,
      origin: string | undefined
    ): Effect.Effect<
      HttpClientResponse.HttpClientResponse,
      E | TokenError.TokenError | HttpClientError.RequestError,
      R
    > =>
      Effect.flatMap(
        origin === undefined && hops > 0 ? sendWithoutToken(hop) : run(provider, hop),
        (response) => {
          const next = redirectOf(response, hop)
          if (next === undefined || hops >= maxRedirects) return Effect.succeed(response)
          const sentOrigin = hops === 0 ? originOfUrl(innerOf(response).request.url) : origin
          const nextOrigin = sentOrigin !== undefined && originOfUrl(next.url) === sentOrigin ? sentOrigin : undefined
          if (!insecure && !bearerAllowed(next.url)) {
            return Effect.zipRight(drain(response), Effect.fail(insecureRefusal(next)))
          }
          return Effect.zipRight(drain(response), loop(next, hops + 1, nextOrigin))
        }
      )
    return loop(request, 0, "")
  }
  const sendWithoutToken = (request: HttpClientRequest.HttpClientRequest) => {
    const bare = HttpClientRequest.modify(request, {
      headers: Headers.remove(request.headers, ["authorization", "dpop", "cookie", "proxy-authorization"])
    })
    return Effect.matchEffect(self.execute(bare), {
      onFailure: (error) => Effect.fail(errorWithCallerRequest(error, bare)),
      onSuccess: (response) => Effect.succeed(withCallerRequest(response, bare))
    })
  }
  const withRedirects = maxRedirects === 0 ? run : follow
  const checked = Effect.isEffect(provider)
    ? (request: HttpClientRequest.HttpClientRequest) =>
      Effect.flatMap(provider, (service) => withRedirects(service, request))
    : (request: HttpClientRequest.HttpClientRequest) => withRedirects(provider, request)
  // an absolute URL is checked up front too, so that no token is fetched for a request that cannot carry it
  const execute = insecure ?
    checked :
    (request: HttpClientRequest.HttpClientRequest) =>
      bearerAllowed(request.url) ? checked(request) : Effect.fail(insecureRefusal(request))
  return HttpClient.makeWith(
    (request: Effect.Effect<HttpClientRequest.HttpClientRequest>) => Effect.flatMap(request, execute),
    Effect.succeed
  )
}

/** @internal */
export const authorize = (...args: ReadonlyArray<any>): any => {
  if (Predicate.hasProperty(args[0], HttpClient.TypeId)) {
    const self = args[0] as HttpClient.HttpClient.With<any, any>
    return args.length === 1 ? authorizeWith(self, TokenProvider.TokenProvider) : authorizeWith(self, args[1], args[2])
  }
  return (self: HttpClient.HttpClient.With<any, any>) => authorizeWith(self, args[0], args[1])
}
