import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
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
    // The Ref holds the map; updates change it in place (a copy per insert made filling N keys O(N²)).
    // Every update is synchronous, so no reader sees a half-made one.
    const ref = Ref.unsafeMake(new Map<string, Entry>())
    let tick = 0
    const none = Effect.succeed(Option.none<AccessToken.AccessToken>())
    const get = (key: string) =>
      Effect.flatMap(Ref.get(ref), (map) => {
        const entry = map.get(key)
        if (entry === undefined) return none
        entry.used = ++tick
        return Effect.succeed(entry.some)
      })
    /** Over the bound: drop expired tokens, then the least recently used, in one pass each time. */
    const evict = (map: Map<string, Entry>, now: number) => {
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
    const set = (key: string, token: AccessToken.AccessToken) =>
      Effect.flatMap(Monotonic.millis, (now) =>
        Ref.update(ref, (map) => {
          map.set(key, { token, some: Option.some(token), used: ++tick })
          evict(map, now)
          return map
        }))
    const remove = (key: string, token?: AccessToken.AccessToken) =>
      Ref.update(ref, (map) => {
        const entry = map.get(key)
        if (entry !== undefined && (token === undefined || AccessToken.isSameValue(entry.token, token))) map.delete(key)
        return map
      })
    return {
      get,
      set,
      remove,
      withFetchLock: (_key, fetch) => fetch,
      shared: false
    }
  })
