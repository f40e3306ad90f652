/**
 * Where `TokenProvider` keeps its tokens. The default is an in-memory, size-bounded `Ref`; a shared
 * store (Redis, for a fleet of instances) implements the same interface and is provided as a layer,
 * without any change to `TokenProvider`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as AccessToken from "./AccessToken.js"
import * as internal from "./internal/tokenStore.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The token kept under `key`, if any. Called on every `get`: keep it cheap (a local read). */
  readonly get: (key: string) => Effect.Effect<Option.Option<AccessToken.AccessToken>>
  /** Keeps `token` under `key` until it expires. */
  readonly set: (key: string, token: AccessToken.AccessToken) => Effect.Effect<void>
  /** Drops the token under `key`; when `token` is given, only if it is still the one kept. */
  readonly remove: (key: string, token?: AccessToken.AccessToken) => Effect.Effect<void>
  /**
   * Runs `fetch` so that, across everything sharing the store, one fetch per key runs at a time.
   * A local store runs it as it is (the provider already single-flights within a process).
   */
  readonly withFetchLock: <A, E, R>(key: string, fetch: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Whether `get` may return tokens other processes stored (the provider then re-reads under the lock). */
  readonly shared: boolean
}

/**
 * @since 0.1.0
 * @category tags
 */
export class TokenStore extends Context.Tag("@oauth-cc/core/TokenStore")<TokenStore, Service>() {}

/**
 * An in-memory store holding at most `maxKeys` keys in a `Ref`; the least recently used key goes first,
 * and expired tokens are dropped when a token is added.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: (options?: { readonly maxKeys?: number | undefined }) => Effect.Effect<Service> =
  internal.makeMemory

/**
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options?: { readonly maxKeys?: number | undefined }): Layer.Layer<TokenStore> =>
  Layer.effect(TokenStore, makeMemory(options))
