import * as HttpClient from "@effect/platform/HttpClient"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as AccessToken from "../AccessToken.js"
import type * as ClientCredentials from "../ClientCredentials.js"
import * as DPoP from "../DPoP.js"
import type * as TokenError from "../TokenError.js"
import type * as TokenProvider from "../TokenProvider.js"
import * as TokenStore from "../TokenStore.js"
import { normalizeList, resolve, type Resolved, splitList } from "./clientCredentials.js"
import { endpointFromIssuer } from "./discovery.js"
import * as Monotonic from "./monotonic.js"
import * as Telemetry from "./telemetry.js"
import * as Endpoint from "./tokenEndpoint.js"
import { makeMemory } from "./tokenStore.js"

/** @internal */
export const cacheCounter = Telemetry.cacheCounter

const hitCounter = Telemetry.cacheResult("hit")
const missCounter = Telemetry.cacheResult("miss")
const joinedCounter = Telemetry.cacheResult("joined")
const refreshAheadCounter = Telemetry.cacheResult("refresh-ahead")
const staleCounter = Telemetry.cacheResult("stale-on-error")

/** Coordination state of one key: the fetch under way, and the last failure while it cools down. */
interface KeyState {
  inflight: Deferred.Deferred<AccessToken.AccessToken, TokenError.TokenError> | undefined
  failure: { readonly error: TokenError.TokenError; readonly until: number } | undefined
}

/**
 * The key a token is stored under: endpoint (the issuer while the endpoint is not known: a provider
 * discovers it once and keeps it), client, method and parameters, and the DPoP key's thumbprint: a token
 * bound to one key is useless with another, so providers with different keys never share one.
 *
 * @internal
 */
export const cacheKey = (options: Resolved, params: Endpoint.Params, dpopThumbprint?: string | undefined): string =>
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

/** @internal */
export const normalizeParams = (options: Resolved, params: TokenProvider.Params): Endpoint.Params => ({
  scope: params.scope === undefined ? options.scope : normalizeList(splitList(params.scope)),
  audience: params.audience ?? options.audience,
  resource: params.resource === undefined ? options.resource : normalizeList(splitList(params.resource))
})

/** @internal */
export const make = (
  options: ClientCredentials.Options
): Effect.Effect<TokenProvider.Service, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = resolve(options)
    const client = yield* HttpClient.HttpClient
    const scope = yield* Effect.scope
    const store = yield* Effect.serviceOption(TokenStore.TokenStore).pipe(
      Effect.flatMap(Option.match({
        onNone: () => makeMemory({ maxKeys: resolved.maxCachedKeys }),
        onSome: Effect.succeed
      }))
    )
    // Once the scope has closed no fetch can start (a fiber forked into a closed scope never runs):
    // callers that would start one are interrupted at once, like the takers of a shut-down queue.
    let closed = false
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
      })
    )
    const scrub = Endpoint.makeScrub(resolved.clientSecret, resolved.clientId)
    // the DPoP key is imported once per provider; `validate` checked its structure and algorithm, so a key
    // Web Crypto still refuses is a defect like other invalid options (its message holds no key material)
    const dpop: Endpoint.DPoPContext | undefined = resolved.dpop === undefined ? undefined : {
      proofer: yield* Effect.orDie(DPoP.make(resolved.dpop.options)),
      nonces: DPoP.makeNonceStore()
    }
    const states = new Map<string, KeyState>()
    const endpoint = resolveEndpoint(client, resolved, scope)
    const skew = resolved.refreshSkewMillis

    /**
     * The token is served until then. On the hot path: plain arithmetic, the same as
     * `AccessToken.effectiveSkew` without decoding a `Duration` on every call.
     */
    const serveUntil = (token: AccessToken.AccessToken) =>
      token.expiresAt - Math.max(0, Math.min(skew, (token.expiresAt - token.issuedAt) / 2))
    /** One background refresh starts from then. */
    const refreshAt = (token: AccessToken.AccessToken) =>
      token.issuedAt + resolved.refreshAhead * (serveUntil(token) - token.issuedAt)

    const cooldownOf = (error: TokenError.TokenError): number => {
      const retryAfter = "retryAfter" in error && error.retryAfter !== undefined
        ? Math.min(Duration.toMillis(error.retryAfter), resolved.retry.maxRetryAfterMillis)
        : 0
      return Math.max(resolved.failureCooldownMillis, retryAfter)
    }

    const pruneStates = (now: number) => {
      if (states.size <= resolved.maxCachedKeys) return
      for (const [key, state] of states) {
        if (state.inflight === undefined && (state.failure === undefined || state.failure.until <= now)) {
          states.delete(key)
        }
      }
    }

    /**
     * Under the store's lock: a token another instance stored meanwhile, else a fetch. `force` (from
     * `refresh`) always fetches.
     */
    const fetchAndStore = (key: string, params: Endpoint.Params, force: boolean) => {
      const fetchNew = Effect.flatMap(
        endpoint,
        (endpoint) => Endpoint.fetch(client, resolved, endpoint, params, scrub, dpop)
      ).pipe(Effect.tap((token) => store.set(key, token)))
      if (!store.shared) return fetchNew
      if (force) return store.withFetchLock(key, fetchNew)
      return store.withFetchLock(
        key,
        Effect.flatMap(
          Effect.zip(store.get(key), Monotonic.millis),
          ([stored, now]) =>
            Option.isSome(stored) && now < refreshAt(stored.value) ? Effect.succeed(stored.value) : fetchNew
        )
      )
    }

    /**
     * Starts the one fetch for `key` in the provider's scope, so that a caller who stops waiting
     * does not cancel it for the others. Synchronous up to the fork: no other fiber can interleave.
     */
    const startFetch = (key: string, state: KeyState, params: Endpoint.Params, force = false) => {
      const deferred = Deferred.unsafeMake<AccessToken.AccessToken, TokenError.TokenError>(FiberId.none)
      state.inflight = deferred
      // onExit, not exit + flatMap: the Deferred is completed even when the fiber is interrupted before
      // it starts (its scope closed), so waiters never hang.
      return fetchAndStore(key, params, force).pipe(
        // a defect (a dying HttpClient or store, a bug) is a failure like any other: it reaches the callers
        // as a TokenError and starts the cooldown
        Endpoint.defectAsFailure,
        Effect.onExit((exit) =>
          Effect.clockWith((clock) => {
            const now = Monotonic.unsafeMillis(clock)
            state.inflight = undefined
            const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
            state.failure = error === undefined ? undefined : { error, until: now + cooldownOf(error) }
            if (state.failure === undefined) states.delete(key)
            pruneStates(now)
            return error === undefined
              ? Deferred.done(deferred, exit)
              : Effect.zipRight(Telemetry.logCooldown(error, cooldownOf(error)), Deferred.done(deferred, exit))
          })
        ),
        // the Deferred carries the outcome to the callers; the fiber itself ends quietly (a failed fiber
        // would be reported as an unhandled error)
        Effect.ignore,
        Effect.forkIn(scope),
        Effect.as(deferred)
      )
    }

    const stateOf = (key: string): KeyState => {
      let state = states.get(key)
      if (state === undefined) {
        state = { inflight: undefined, failure: undefined }
        states.set(key, state)
      }
      return state
    }

    /** Waits for the fetch; when it fails and the old token has not really expired, serves that. */
    const await_ = (
      deferred: Deferred.Deferred<AccessToken.AccessToken, TokenError.TokenError>,
      stale: AccessToken.AccessToken | undefined
    ) =>
      stale === undefined
        ? Deferred.await(deferred)
        : Deferred.await(deferred).pipe(
          Effect.catchAll((error) =>
            Effect.clockWith((clock) =>
              Monotonic.unsafeMillis(clock) < stale.expiresAt
                ? Effect.zipRight(
                  Telemetry.logStaleServed(deferred, error, stale.expiresAt - Monotonic.unsafeMillis(clock)),
                  Effect.as(Metric.increment(staleCounter), stale)
                )
                : Effect.fail(error)
            )
          )
        )

    /** The slow path: no token to serve. Joins the fetch under way, or starts one. */
    const miss = (key: string, params: Endpoint.Params, stale: AccessToken.AccessToken | undefined, now: number) =>
      Effect.suspend(() => {
        if (closed) return Effect.interrupt
        const state = stateOf(key)
        if (state.inflight !== undefined) {
          return Effect.zipRight(Metric.increment(joinedCounter), await_(state.inflight, stale)).pipe(
            Effect.withSpan("oauth-cc.token.get", { attributes: { "oauth.cache": "joined" } })
          )
        }
        if (state.failure !== undefined && now < state.failure.until) {
          const error = state.failure.error
          return (stale !== undefined && now < stale.expiresAt ? Effect.succeed(stale) : Effect.fail(error)).pipe(
            Effect.withSpan("oauth-cc.token.get", { attributes: { "oauth.cache": "cooldown" } })
          )
        }
        return Effect.zipRight(
          Metric.increment(missCounter),
          Effect.flatMap(startFetch(key, state, params), (d) => await_(d, stale))
        ).pipe(
          Effect.withSpan("oauth-cc.token.get", { attributes: { "oauth.cache": "miss" } })
        )
      })

    /** Starts a background refresh unless one is under way or the key is cooling down. */
    const refreshAhead = (key: string, params: Endpoint.Params, now: number) =>
      Effect.suspend(() => {
        if (closed) return Effect.void
        const state = stateOf(key)
        if (state.inflight !== undefined || (state.failure !== undefined && now < state.failure.until)) {
          return Effect.void
        }
        return Effect.zipRight(Metric.increment(refreshAheadCounter), startFetch(key, state, params)).pipe(
          Effect.withSpan("oauth-cc.token.refresh-ahead")
        )
      })

    const getKey = (
      key: string,
      params: Endpoint.Params
    ): Effect.Effect<AccessToken.AccessToken, TokenError.TokenError> =>
      Effect.clockWith((clock) =>
        Effect.flatMap(store.get(key), (cached) => {
          const now = Monotonic.unsafeMillis(clock)
          if (cached._tag === "Some") {
            const token = cached.value
            if (now < serveUntil(token)) {
              // counted synchronously: Metric.increment as an effect costs more than the rest of a hit
              hitCounter.unsafeUpdate(1, [])
              const hit = Effect.succeed(token)
              return now < refreshAt(token) ? hit : Effect.as(refreshAhead(key, params, now), token)
            }
            return miss(key, params, now < token.expiresAt ? token : undefined, now)
          }
          return miss(key, params, undefined, now)
        })
      )

    const refreshKey = (key: string, params: Endpoint.Params) =>
      Effect.clockWith((clock) =>
        Effect.suspend(() => {
          if (closed) return Effect.interrupt
          const now = Monotonic.unsafeMillis(clock)
          const state = stateOf(key)
          if (state.inflight !== undefined) return Deferred.await(state.inflight)
          if (state.failure !== undefined && now < state.failure.until) return Effect.fail(state.failure.error)
          return Effect.flatMap(startFetch(key, state, params, true), Deferred.await)
        })
      ).pipe(Effect.withSpan("oauth-cc.token.refresh"))

    const defaultParams: Endpoint.Params = {
      scope: resolved.scope,
      audience: resolved.audience,
      resource: resolved.resource
    }
    const thumbprint = dpop?.proofer.thumbprint
    const defaultKey = cacheKey(resolved, defaultParams, thumbprint)
    const keyOf = (params: TokenProvider.Params | undefined) => {
      if (params === undefined) return [defaultKey, defaultParams] as const
      const normalized = normalizeParams(resolved, params)
      return [cacheKey(resolved, normalized, thumbprint), normalized] as const
    }

    return {
      get: getKey(defaultKey, defaultParams),
      getFor: (params) => Effect.suspend(() => getKey(...keyOf(params))),
      refresh: refreshKey(defaultKey, defaultParams),
      invalidate: (token, params) => store.remove(keyOf(params)[0], token),
      dpop: dpop?.proofer
    } satisfies TokenProvider.Service
  })

/**
 * The token endpoint: the configured one, or the issuer's, discovered on first need with one request
 * sequence however many fetches ask (single-flight), and kept for the provider's life once found.
 * A failed discovery is not kept: the next fetch tries again.
 *
 * @internal
 */
export const resolveEndpoint = (
  client: HttpClient.HttpClient,
  options: Resolved,
  scope: Scope.Scope
): Effect.Effect<Endpoint.Endpoint, TokenError.TokenError> => {
  if (options.tokenUrl !== undefined) {
    return Effect.succeed({ tokenUrl: options.tokenUrl, authMethod: options.authMethod!, issuer: options.issuer })
  }
  const discover = endpointFromIssuer(client, { ...options, issuer: options.issuer! })
  let found: Endpoint.Endpoint | undefined
  let inflight: Deferred.Deferred<Endpoint.Endpoint, TokenError.TokenDiscoveryFailed> | undefined
  return Effect.suspend(() => {
    if (found !== undefined) return Effect.succeed(found)
    if (inflight !== undefined) return Deferred.await(inflight)
    const deferred = Deferred.unsafeMake<Endpoint.Endpoint, TokenError.TokenDiscoveryFailed>(FiberId.none)
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
