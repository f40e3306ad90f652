import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as ClientCredentials from "../ClientCredentials.js"
import * as DPoP from "../DPoP.js"
import type * as TokenProvider from "../TokenProvider.js"
import * as ClientCredentialsSource from "./clientCredentialsSource.js"
import { scrubSources } from "./credentialSource.js"
import * as ProviderCache from "./providerCache.js"
import { resolve } from "./resolvedOptions.js"
import type * as TokenEndpoint from "./tokenEndpoint.js"

/**
 * The client credentials `TokenProvider`: a token cache over the client credentials token source.
 *
 * @internal
 */
export const make = (
  options: ClientCredentials.Options
): Effect.Effect<TokenProvider.Service, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = resolve(options)
    const client = yield* HttpClient.HttpClient
    const scope = yield* Effect.scope
    // the DPoP key is imported once per provider; `validate` checked its structure and algorithm, so a key
    // Web Crypto still refuses is a defect like other invalid options (its message holds no key material)
    const dpop: TokenEndpoint.DPoPContext | undefined = resolved.dpop === undefined ? undefined : {
      proofer: yield* Effect.orDie(DPoP.make(resolved.dpop.options)),
      nonces: DPoP.makeNonceStore()
    }
    // every secret and assertion a source has given, the one sent now as well as the one configured at start
    const scrub = scrubSources(resolved.clientSecret, resolved.assertion.source)
    const { cache, store } = yield* ProviderCache.make(
      resolved,
      ClientCredentialsSource.make(client, resolved, scope, scrub, dpop)
    )

    const thumbprint = dpop?.proofer.thumbprint
    const defaultParams = ClientCredentialsSource.defaultParams(resolved)
    const defaultKey = ClientCredentialsSource.cacheKey(resolved, defaultParams, thumbprint)
    const keyOf = (params: TokenProvider.Params | undefined) => {
      if (params === undefined) return [defaultKey, defaultParams] as const
      const normalized = ClientCredentialsSource.normalizeParams(resolved, params)
      return [ClientCredentialsSource.cacheKey(resolved, normalized, thumbprint), normalized] as const
    }

    return {
      get: cache.get(defaultKey, defaultParams),
      getFor: (params) => Effect.suspend(() => cache.get(...keyOf(params))),
      refresh: cache.refresh(defaultKey, defaultParams),
      invalidate: (token, params) => store.remove(keyOf(params)[0], token),
      dpop: dpop?.proofer
    } satisfies TokenProvider.Service
  })
