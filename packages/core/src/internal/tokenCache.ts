import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as AccessToken from "../AccessToken.js"
import * as TokenError from "../TokenError.js"
import type * as TokenStore from "../TokenStore.js"
import type * as CachePolicy from "./cachePolicy.js"
import * as Monotonic from "./monotonic.js"
import * as Telemetry from "./telemetry.js"
import { fetchThrough } from "./tokenStore.js"

const hitCounter = Telemetry.cacheResult("hit")
const missCounter = Telemetry.cacheResult("miss")
const joinedCounter = Telemetry.cacheResult("joined")
const refreshAheadCounter = Telemetry.cacheResult("refresh-ahead")
const staleCounter = Telemetry.cacheResult("stale-on-error")

type Result = Deferred.Deferred<AccessToken.AccessToken, TokenError.TokenError>

/**
 * The coordination state of one key; a key without one is idle (its token, if any, is in the store).
 * `Fetching`: the one fetch under way, which every caller of the key awaits. `CoolingDown`: the last fetch
 * failed, and until `until` its error is the answer (or the old token, while it has not really expired).
 */
type KeyState =
  | { readonly _tag: "Fetching"; readonly result: Result }
  | { readonly _tag: "CoolingDown"; readonly error: TokenError.TokenError; readonly until: number }

/**
 * A token cache over any fetch: keyed single-flight, refresh-ahead, stale-on-error and a cooldown after
 * failures, with tokens kept in a `TokenStore`. It knows no grant: `lookup` fetches the token for a key.
 *
 * @internal
 */
export interface TokenCache<Key> {
  /** The token for `key`, stored under `id`: served from the store, or fetched once for all callers. */
  readonly get: (id: string, key: Key) => Effect.Effect<AccessToken.AccessToken, TokenError.TokenError>
  /** A new token for `key`, whatever is stored (joining a fetch under way). */
  readonly refresh: (id: string, key: Key) => Effect.Effect<AccessToken.AccessToken, TokenError.TokenError>
}

/**
 * Makes the cache in the current scope: fetches run in that scope, so a caller who stops waiting does not
 * cancel a fetch for the others; once it closes, no fetch starts (callers that would start one are
 * interrupted at once, like the takers of a shut-down queue).
 *
 * @internal
 */
export const make = <Key>(options: {
  readonly store: TokenStore.Service
  readonly policy: CachePolicy.Policy
  readonly lookup: (key: Key) => Effect.Effect<AccessToken.AccessToken, TokenError.TokenError>
}): Effect.Effect<TokenCache<Key>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { lookup, policy, store } = options
    const scope = yield* Effect.scope
    let closed = false
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
      })
    )
    const states = new Map<string, KeyState>()
    const fresh = (token: AccessToken.AccessToken, now: number) => now < policy.refreshAt(token)
    const coolingDown = (state: KeyState | undefined, now: number): state is KeyState & { _tag: "CoolingDown" } =>
      state?._tag === "CoolingDown" && now < state.until

    const prune = (now: number) => {
      if (states.size <= policy.maxKeys) return
      for (const [id, state] of states) {
        if (state._tag === "CoolingDown" && state.until <= now) states.delete(id)
      }
    }

    /** Idle → Fetching; the fetch's end makes the key idle again, or cooling down. Synchronous up to the fork. */
    const startFetch = (id: string, key: Key, force: boolean) => {
      const result: Result = Deferred.unsafeMake(FiberId.none)
      states.set(id, { _tag: "Fetching", result })
      // onExit, not exit + flatMap: the Deferred is completed even when the fiber is interrupted before
      // it starts (its scope closed), so waiters never hang.
      return fetchThrough(store, id, lookup(key), { force, fresh }).pipe(
        // a defect (a dying HttpClient or store, a bug) is a failure like any other: it reaches the callers
        // as a TokenError and starts the cooldown
        defectAsFailure,
        Effect.onExit((exit) =>
          Effect.clockWith((clock) => {
            const now = Monotonic.unsafeMillis(clock)
            const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
            if (error === undefined) {
              states.delete(id)
              prune(now)
              return Deferred.done(result, exit)
            }
            const cooldown = policy.cooldownOf(error)
            states.set(id, { _tag: "CoolingDown", error, until: now + cooldown })
            prune(now)
            return Effect.zipRight(Telemetry.logCooldown(error, cooldown), Deferred.done(result, exit))
          })
        ),
        // the Deferred carries the outcome to the callers; the fiber itself ends quietly (a failed fiber
        // would be reported as an unhandled error)
        Effect.ignore,
        Effect.forkIn(scope),
        Effect.as(result)
      )
    }

    /** Waits for the fetch; when it fails and the old token has not really expired, serves that. */
    const await_ = (result: Result, stale: AccessToken.AccessToken | undefined) =>
      stale === undefined ? Deferred.await(result) : Deferred.await(result).pipe(
        Effect.catchAll((error) =>
          Effect.clockWith((clock) =>
            Monotonic.unsafeMillis(clock) < stale.expiresAt
              ? Effect.zipRight(
                Telemetry.logStaleServed(result, error, stale.expiresAt - Monotonic.unsafeMillis(clock)),
                Effect.as(Metric.increment(staleCounter), stale)
              )
              : Effect.fail(error)
          )
        )
      )

    /** The slow path: no token to serve. Joins the fetch under way, answers from the cooldown, or starts one. */
    const miss = (id: string, key: Key, stale: AccessToken.AccessToken | undefined, now: number) =>
      Effect.suspend(() => {
        if (closed) return Effect.interrupt
        const state = states.get(id)
        if (state?._tag === "Fetching") {
          return Effect.zipRight(Metric.increment(joinedCounter), await_(state.result, stale)).pipe(
            Effect.withSpan("oauth-cc.token.get", { attributes: { "oauth.cache": "joined" } })
          )
        }
        if (coolingDown(state, now)) {
          return (stale !== undefined && now < stale.expiresAt ? Effect.succeed(stale) : Effect.fail(state.error)).pipe(
            Effect.withSpan("oauth-cc.token.get", { attributes: { "oauth.cache": "cooldown" } })
          )
        }
        return Effect.zipRight(
          Metric.increment(missCounter),
          Effect.flatMap(startFetch(id, key, false), (result) => await_(result, stale))
        ).pipe(Effect.withSpan("oauth-cc.token.get", { attributes: { "oauth.cache": "miss" } }))
      })

    /** Starts a background refresh unless one is under way or the key is cooling down. */
    const refreshAhead = (id: string, key: Key, now: number) =>
      Effect.suspend(() => {
        if (closed) return Effect.void
        const state = states.get(id)
        if (state?._tag === "Fetching" || coolingDown(state, now)) return Effect.void
        return Effect.zipRight(Metric.increment(refreshAheadCounter), startFetch(id, key, false)).pipe(
          Effect.withSpan("oauth-cc.token.refresh-ahead")
        )
      })

    const get = (id: string, key: Key): Effect.Effect<AccessToken.AccessToken, TokenError.TokenError> =>
      Effect.clockWith((clock) =>
        Effect.flatMap(store.get(id), (cached) => {
          const now = Monotonic.unsafeMillis(clock)
          if (cached._tag === "Some") {
            const token = cached.value
            if (now < policy.serveUntil(token)) {
              // counted synchronously: Metric.increment as an effect costs more than the rest of a hit
              hitCounter.unsafeUpdate(1, [])
              return now < policy.refreshAt(token)
                ? Effect.succeed(token)
                : Effect.as(refreshAhead(id, key, now), token)
            }
            return miss(id, key, now < token.expiresAt ? token : undefined, now)
          }
          return miss(id, key, undefined, now)
        })
      )

    const refresh = (id: string, key: Key) =>
      Effect.clockWith((clock) =>
        Effect.suspend(() => {
          if (closed) return Effect.interrupt
          const now = Monotonic.unsafeMillis(clock)
          const state = states.get(id)
          if (state?._tag === "Fetching") return Deferred.await(state.result)
          if (coolingDown(state, now)) return Effect.fail(state.error)
          return Effect.flatMap(startFetch(id, key, true), Deferred.await)
        })
      ).pipe(Effect.withSpan("oauth-cc.token.refresh"))

    return { get, refresh }
  })

/**
 * A defect inside a fetch as a terminal `TokenTransportError("Unexpected")`. Only the defect's class is
 * kept: its message may quote a server's body or a request.
 *
 * @internal
 */
export const defectAsFailure = <A, R>(
  self: Effect.Effect<A, TokenError.TokenError, R>
): Effect.Effect<A, TokenError.TokenError, R> =>
  Effect.catchAllDefect(self, (defect) =>
    Effect.fail(
      new TokenError.TokenTransportError({
        reason: "Unexpected",
        detail: `unexpected ${
          defectName(defect)
        } inside the token fetch (a defect of the HttpClient, the TokenStore or oauth-cc)`,
        attempts: 1
      })
    ))

const defectName = (defect: unknown): string => {
  if (defect instanceof Error) return /^[A-Za-z0-9_$]{1,40}$/.test(defect.name) ? defect.name : "Error"
  return defect === null ? "null" : typeof defect
}
