import type * as HttpClient from "@effect/platform/HttpClient"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import type * as AccessToken from "../AccessToken.js"
import type * as TokenError from "../TokenError.js"
import type * as TokenProvider from "../TokenProvider.js"
import { normalizeList, reservedParams, splitList } from "./clientCredentials.js"
import { endpointFromIssuer } from "./discovery.js"
import type { Resolved } from "./resolvedOptions.js"
import type { Scrub } from "./scrub.js"
import * as TokenEndpoint from "./tokenEndpoint.js"

/**
 * The parameters a token is requested for; normalized (sorted, de-duplicated) so equal sets are equal.
 *
 * @internal
 */
export interface Params {
  readonly scope: ReadonlyArray<string>
  readonly audience: string | undefined
  readonly resource: ReadonlyArray<string>
}

/** @internal */
export const defaultParams = (options: Resolved): Params => ({
  scope: options.scope,
  audience: options.audience,
  resource: options.resource
})

/** @internal */
export const normalizeParams = (options: Resolved, params: TokenProvider.Params): Params => ({
  scope: params.scope === undefined ? options.scope : normalizeList(splitList(params.scope)),
  audience: params.audience ?? options.audience,
  resource: params.resource === undefined ? options.resource : normalizeList(splitList(params.resource))
})

/**
 * The key a token is stored under: endpoint (the issuer while the endpoint is not known: a provider
 * discovers it once and keeps it), client, method and parameters, and the DPoP key's thumbprint: a token
 * bound to one key is useless with another, so providers with different keys never share one.
 *
 * @internal
 */
export const cacheKey = (options: Resolved, params: Params, dpopThumbprint?: string | undefined): string =>
  JSON.stringify([
    options.tokenUrl?.href ?? `issuer ${options.issuer}`,
    options.clientId,
    options.authMethod ?? "discovered",
    params.scope,
    params.audience ?? null,
    params.resource,
    // extra parameters (e.g. an organization) change what the server issues: with a shared store, two
    // services differing only in them must not share a token
    Object.entries(options.extraParams).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    ...(dpopThumbprint === undefined ? [] : [`dpop ${dpopThumbprint}`])
  ])

/**
 * The client credentials grant's request (RFC 6749 §4.4.2): `grant_type`, scope, audience, resources and the
 * extra parameters (never one the request sets itself).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4.2
 * @internal
 */
export const grant = (options: Resolved, params: Params): TokenEndpoint.Grant => {
  const form: Array<readonly [string, string]> = [["grant_type", "client_credentials"]]
  if (params.scope.length > 0) form.push(["scope", params.scope.join(" ")])
  if (params.audience !== undefined) form.push(["audience", params.audience])
  for (const resource of params.resource) form.push(["resource", resource])
  for (const [key, value] of Object.entries(options.extraParams)) {
    if (!reservedParams.has(key)) form.push([key, value])
  }
  return { form, scope: params.scope }
}

/**
 * The client credentials token source (golang/oauth2's `clientcredentials.Config.TokenSource`): it only
 * fetches, with no cache of its own. The endpoint is resolved once per provider.
 *
 * @internal
 */
export const make = (
  client: HttpClient.HttpClient,
  options: Resolved,
  scope: Scope.Scope,
  scrub: Scrub,
  dpop: TokenEndpoint.DPoPContext | undefined
): (params: Params) => Effect.Effect<AccessToken.AccessToken, TokenError.TokenError> => {
  const endpoint = resolveEndpoint(client, options, scope)
  return (params) =>
    Effect.flatMap(endpoint, (endpoint) => {
      const fetch = TokenEndpoint.fetch(client, options, endpoint, grant(options, params), scrub, dpop)
      return withRotation(fetch, endpoint.auth.rotated)
    })
}

/**
 * After an `invalid_client`, a credential read from a source is read again: if it changed (the secret was
 * rotated between the read and the answer), the fetch is made once more with it; else the error is reported.
 *
 * @internal
 */
export const withRotation = <A>(
  fetch: Effect.Effect<A, TokenError.TokenError>,
  rotated: Effect.Effect<boolean, TokenError.TokenError> | undefined
): Effect.Effect<A, TokenError.TokenError> =>
  rotated === undefined ? fetch : Effect.catchIf(
    fetch,
    (error) => error._tag === "TokenRequestRejected" && error.error === "invalid_client",
    (error) =>
      Effect.flatMap(rotated, (changed) =>
        changed
          ? fetch.pipe(Effect.withSpan("oauth-cc.token.rotated-credential"))
          : Effect.fail(error))
  )

/**
 * The token endpoint: the configured one, or the issuer's, discovered on first need with one request
 * sequence however many fetches ask (single-flight, in the provider's scope so that no caller's
 * interruption cancels it for the others), and kept for the provider's life once found. A failed
 * discovery is not kept: the next fetch tries again.
 *
 * @internal
 */
export const resolveEndpoint = (
  client: HttpClient.HttpClient,
  options: Resolved,
  scope: Scope.Scope
): Effect.Effect<TokenEndpoint.Endpoint, TokenError.TokenError> => {
  const source = options.source
  if (source._tag === "Configured") return Effect.succeed(source.endpoint)
  const discover = endpointFromIssuer(client, { ...options, issuer: source.issuer })
  let found: TokenEndpoint.Endpoint | undefined
  let inflight: Deferred.Deferred<TokenEndpoint.Endpoint, TokenError.TokenDiscoveryFailed> | undefined
  return Effect.suspend(() => {
    if (found !== undefined) return Effect.succeed(found)
    if (inflight !== undefined) return Deferred.await(inflight)
    const deferred = Deferred.unsafeMake<TokenEndpoint.Endpoint, TokenError.TokenDiscoveryFailed>(FiberId.none)
    inflight = deferred
    return discover.pipe(
      Effect.onExit((exit) => {
        inflight = undefined
        if (Exit.isSuccess(exit)) found = exit.value
        return Deferred.done(deferred, exit)
      }),
      Effect.ignore,
      Effect.forkIn(scope),
      Effect.zipRight(Deferred.await(deferred))
    )
  })
}
