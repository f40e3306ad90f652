/**
 * Where `TokenProvider` keeps its tokens. The default is an in-memory, size-bounded `Map`; a shared
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
 * The store's protocol with `TokenProvider`: four operations, and one flag saying which protocol applies.
 *
 * - `get` is called on every `TokenProvider.get` (the hot path): a read, no I/O a local store can avoid.
 * - `set` is called once per successful fetch, `remove` once per `invalidate` (a 401 on a resource).
 * - A local store (`shared: false`): the provider fetches at most once per key at a time within its process
 *   (single-flight), then calls `set`. `withFetchLock` is never called.
 * - A shared store (`shared: true`, e.g. Redis): `get` may return a token another process stored. Before
 *   fetching, the provider calls `withFetchLock(key, reread)`, where `reread` calls `get(key)` again under the
 *   lock and serves that token when it does not yet need a refresh, and otherwise fetches and calls `set`
 *   inside the lock. So a fleet fetches once per key: the store only has to run `reread` while no other holder
 *   of the key's lock runs it (and may run it without the lock when the lock cannot be had, which costs a
 *   fetch, not a wrong token). A forced refresh (`TokenProvider.refresh`) fetches under the lock without the
 *   re-read.
 * - None of the operations may fail: a store that loses its backend serves from memory or answers `None`;
 *   a defect is reported to callers as a `TokenTransportError("Unexpected")`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The token kept under `key`, if any. Called on every `get`: keep it cheap (a local read). */
  readonly get: (key: string) => Effect.Effect<Option.Option<AccessToken.AccessToken>>
  /** Keeps `token` under `key` until it expires (replacing any token kept there). */
  readonly set: (key: string, token: AccessToken.AccessToken) => Effect.Effect<void>
  /** Drops the token under `key`; when `token` is given, only if it is still the one kept. */
  readonly remove: (key: string, token?: AccessToken.AccessToken) => Effect.Effect<void>
  /**
   * Runs `fetch` so that, across everything sharing the store, one `fetch` per key runs at a time; called
   * only when `shared` (see the protocol above). A local store runs it as it is.
   */
  readonly withFetchLock: <A, E, R>(key: string, fetch: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Whether `get` may return tokens other processes stored: the provider then fetches through
   * `withFetchLock`, re-reading under the lock.
   */
  readonly shared: boolean
}

/**
 * @since 0.1.0
 * @category tags
 */
export class TokenStore extends Context.Tag("@oauth-cc/core/TokenStore")<TokenStore, Service>() {}

/**
 * An in-memory store holding at most `maxKeys` keys in a `Map`; the least recently used key goes first,
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
