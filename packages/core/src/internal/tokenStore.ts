import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as AccessToken from "../AccessToken.js"
import type * as TokenStore from "../TokenStore.js"
import * as Monotonic from "./monotonic.js"

interface Entry {
  readonly token: AccessToken.AccessToken
  readonly some: Option.Option<AccessToken.AccessToken>
  used: number
}

/** @internal */
export const defaultMaxKeys = 1000

/** @internal */
export const makeMemory = (options?: { readonly maxKeys?: number | undefined }): Effect.Effect<TokenStore.Service> =>
  Effect.sync(() => {
    const maxKeys = options?.maxKeys ?? defaultMaxKeys
    // A plain Map, read and changed only inside Effect.sync: every operation is synchronous, so no reader
    // sees a half-made update.
    const map = new Map<string, Entry>()
    let tick = 0
    const none = Option.none<AccessToken.AccessToken>()
    /** Over the bound: drop expired tokens, then the least recently used, in one pass each time. */
    const evict = (now: number) => {
      while (map.size > maxKeys) {
        let oldest: string | undefined
        let oldestUsed = Infinity
        for (const [k, e] of map) {
          if (e.token.expiresAt <= now) {
            map.delete(k)
          } else if (e.used < oldestUsed) {
            oldest = k
            oldestUsed = e.used
          }
        }
        if (map.size > maxKeys && oldest !== undefined) map.delete(oldest)
      }
    }
    return {
      get: (key) =>
        Effect.sync(() => {
          const entry = map.get(key)
          if (entry === undefined) return none
          entry.used = ++tick
          return entry.some
        }),
      set: (key, token) =>
        Effect.clockWith((clock) =>
          Effect.sync(() => {
            map.set(key, { token, some: Option.some(token), used: ++tick })
            evict(Monotonic.unsafeMillis(clock))
          })
        ),
      remove: (key, token) =>
        Effect.sync(() => {
          const entry = map.get(key)
          if (entry !== undefined && (token === undefined || AccessToken.isSameValue(entry.token, token))) {
            map.delete(key)
          }
        }),
      withFetchLock: (_key, fetch) => fetch,
      shared: false
    }
  })

/**
 * A fetch for `key` that follows the store's protocol (`TokenStore.Service`): stored with `set` when it
 * succeeds; with a shared store, run under `withFetchLock` after re-reading the key, so that a token another
 * process stored meanwhile is served (unless `force`) while `fresh` says it does not need a refresh.
 *
 * @internal
 */
export const fetchThrough = <E, R>(
  store: TokenStore.Service,
  key: string,
  fetch: Effect.Effect<AccessToken.AccessToken, E, R>,
  options: { readonly force: boolean; readonly fresh: (token: AccessToken.AccessToken, now: number) => boolean }
): Effect.Effect<AccessToken.AccessToken, E, R> => {
  const fetchNew = Effect.tap(fetch, (token) => store.set(key, token))
  if (!store.shared) return fetchNew
  if (options.force) return store.withFetchLock(key, fetchNew)
  return store.withFetchLock(
    key,
    Effect.flatMap(
      Effect.zip(store.get(key), Monotonic.millis),
      ([stored, now]) =>
        Option.isSome(stored) && options.fresh(stored.value, now) ? Effect.succeed(stored.value) : fetchNew
    )
  )
}
