import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as AccessToken from "../AccessToken.js"
import type * as AuthorizedHttpClient from "../AuthorizedHttpClient.js"
import type * as TokenError from "../TokenError.js"
import * as TokenProvider from "../TokenProvider.js"

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

/** @internal */
export const authorizeWith = <E, R, R2>(
  self: HttpClient.HttpClient.With<E, R>,
  provider: TokenProvider.Service | Effect.Effect<TokenProvider.Service, never, R2>,
  options?: AuthorizedHttpClient.Options
): HttpClient.HttpClient.With<E | TokenError.TokenError, R | R2> => {
  const retryOn401 = options?.retryOn401 ?? true
  const params = options?.params
  const get = (provider: TokenProvider.Service) => params === undefined ? provider.get : provider.getFor(params)
  const providerEffect = Effect.isEffect(provider) ? provider : Effect.succeed(provider)
  const send = (request: HttpClientRequest.HttpClientRequest, token: AccessToken.AccessToken) =>
    self.execute(HttpClientRequest.setHeader(request, "authorization", AccessToken.authorizationHeader(token)))
  const execute = (request: HttpClientRequest.HttpClientRequest) =>
    Effect.flatMap(
      providerEffect,
      (provider) =>
        Effect.flatMap(get(provider), (token) =>
          Effect.flatMap(send(request, token), (response) => {
            if (response.status !== 401 || !retryOn401 || !isReplayable(request)) return Effect.succeed(response)
            return provider.invalidate(token, params).pipe(
              Effect.zipRight(get(provider)),
              Effect.flatMap((fresh) => send(request, fresh)),
              Effect.withSpan("oauth-cc.authorized.retry-401")
            )
          }))
    )
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
