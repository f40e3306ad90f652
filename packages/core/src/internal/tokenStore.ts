import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type * as AccessToken from "../AccessToken.js"
import type * as TokenStore from "../TokenStore.js"

interface Entry {
  readonly token: AccessToken.AccessToken
  readonly some: Option.Option<AccessToken.AccessToken>
  used: number
}

/** @internal */
export const defaultMaxKeys = 1000

/** @internal */
export const sameToken = (a: AccessToken.AccessToken, b: AccessToken.AccessToken): boolean =>
  a === b || Redacted.value(a.value) === Redacted.value(b.value)

/** @internal */
export const makeMemory = (options?: { readonly maxKeys?: number | undefined }): Effect.Effect<TokenStore.Service> =>
  Effect.sync(() => {
    const maxKeys = options?.maxKeys ?? defaultMaxKeys
    // The Ref holds an immutable snapshot: readers never see a half-made update.
    const ref = Ref.unsafeMake<ReadonlyMap<string, Entry>>(new Map())
    let tick = 0
    const none = Effect.succeed(Option.none<AccessToken.AccessToken>())
    const get = (key: string) =>
      Effect.flatMap(Ref.get(ref), (map) => {
        const entry = map.get(key)
        if (entry === undefined) return none
        entry.used = ++tick
        return Effect.succeed(entry.some)
      })
    const set = (key: string, token: AccessToken.AccessToken) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.update(ref, (map) => {
          const next = new Map(map)
          next.set(key, { token, some: Option.some(token), used: ++tick })
          if (next.size > maxKeys) {
            for (const [k, e] of next) if (e.token.expiresAt <= now) next.delete(k)
          }
          while (next.size > maxKeys) {
            let oldest: string | undefined
            let oldestUsed = Infinity
            for (const [k, e] of next) {
              if (e.used < oldestUsed) {
                oldest = k
                oldestUsed = e.used
              }
            }
            next.delete(oldest!)
          }
          return next
        }))
    const remove = (key: string, token?: AccessToken.AccessToken) =>
      Ref.update(ref, (map) => {
        const entry = map.get(key)
        if (entry === undefined || (token !== undefined && !sameToken(entry.token, token))) return map
        const next = new Map(map)
        next.delete(key)
        return next
      })
    return {
      get,
      set,
      remove,
      withFetchLock: (_key, fetch) => fetch,
      shared: false
    }
  })
