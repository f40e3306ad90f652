import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as AccessToken from "../AccessToken.js"
import type * as TokenError from "../TokenError.js"
import * as TokenStore from "../TokenStore.js"
import * as CachePolicy from "./cachePolicy.js"
import type { Resolved } from "./resolvedOptions.js"
import * as TokenCache from "./tokenCache.js"
import { makeMemory } from "./tokenStore.js"

/**
 * The cache a provider of any grant runs on: the `TokenStore` in the context, or a memory store of
 * `maxCachedKeys` keys, and the cache policy the options set, over the grant's `lookup`.
 *
 * @internal
 */
export const make = <Key>(
  options: Pick<
    Resolved,
    "maxCachedKeys" | "refreshSkewMillis" | "refreshAhead" | "failureCooldownMillis" | "retry"
  >,
  lookup: (key: Key) => Effect.Effect<AccessToken.AccessToken, TokenError.TokenError>
): Effect.Effect<
  { readonly store: TokenStore.Service; readonly cache: TokenCache.TokenCache<Key> },
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const store = yield* Effect.serviceOption(TokenStore.TokenStore).pipe(
      Effect.flatMap(Option.match({
        onNone: () => makeMemory({ maxKeys: options.maxCachedKeys }),
        onSome: Effect.succeed
      }))
    )
    const cache = yield* TokenCache.make({
      store,
      policy: CachePolicy.make({
        refreshSkewMillis: options.refreshSkewMillis,
        refreshAhead: options.refreshAhead,
        failureCooldownMillis: options.failureCooldownMillis,
        maxRetryAfterMillis: options.retry.maxRetryAfterMillis,
        maxKeys: options.maxCachedKeys
      }),
      lookup
    })
    return { store, cache }
  })
