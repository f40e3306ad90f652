/**
 * A `TokenStore` shared through Redis, so that a fleet of processes fetches **one** token per expiry window.
 *
 * Two tiers: every process keeps a local, in-memory copy (`get` on the warm path never touches Redis), and
 * Redis holds the token, AES-256-GCM encrypted, until it expires. When a token is missing or due, one
 * process takes a short Redis lock (`SET NX PX`) and fetches while the others poll for the stored token; a
 * crashed holder's lock expires after `lockTimeout`. When Redis is down or slow, every process falls back
 * to its local tier and fetches for itself, and it goes back to sharing when Redis returns.
 *
 * @since 0.1.0
 */
import { TokenStore } from "@oauth-cc/core/TokenStore"
import type * as TokenStoreModule from "@oauth-cc/core/TokenStore"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { Cluster, Redis } from "ioredis"
import * as internal from "./internal/redisTokenStore.js"

/**
 * Where the store connects: a Redis URL (the store creates the client and closes it with its scope), or a
 * client you own (`ioredis` `Redis` or `Cluster`; the store never closes it).
 *
 * @since 0.1.0
 * @category models
 */
export type Connection =
  | {
    /** `redis://[[user]:password@]host[:port][/db]` or `rediss://…` (TLS). */
    readonly url: string
    readonly client?: undefined
  }
  | {
    /**
     * An `ioredis` client you created and will close. Prefer `enableOfflineQueue: false` on it: the
     * store then notices at once that Redis is down, instead of after `commandTimeout`.
     */
    readonly client: Redis | Cluster
    readonly url?: undefined
  }

/**
 * @since 0.1.0
 * @category models
 */
export interface StoreOptions {
  /** The secret the encryption and key-naming keys are derived from (scrypt); at least 16 characters. */
  readonly encryptionKey: Redacted.Redacted<string>
  /** Prefix of every Redis key the store writes. Default `"oauth-cc:"`. */
  readonly keyPrefix?: string | undefined
  /**
   * Expiry of the fleet's fetch lock (`PX`): a crashed holder blocks the others this long at most. A live
   * holder extends it every third of this while its request runs. Default 5 seconds.
   */
  readonly lockTimeout?: Duration.DurationInput | undefined
  /**
   * Longest a process waits for another one's fetch before fetching itself (a safety net: a holder whose
   * request fails releases the lock, and a waiter takes over at once). Default 30 seconds.
   */
  readonly maxWait?: Duration.DurationInput | undefined
  /** Each Redis command's time limit; past it the store treats Redis as unavailable. Default 500 ms. */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /** First wait of a process polling for the token another one is fetching; doubles each time. Default 25 ms. */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** Longest wait between two polls. Default 500 ms. */
  readonly maxPollInterval?: Duration.DurationInput | undefined
  /** How long `make` waits for the connection it creates before starting degraded. Default 2 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Size of the local tier (least recently used keys go first). Default 1000. */
  readonly maxCachedKeys?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export type Options = Connection & StoreOptions

/**
 * Checks the options: exactly one of `url` (with a `redis:` or `rediss:` scheme) and `client`, an
 * encryption key of at least 16 characters, positive durations, a positive integer `maxCachedKeys`.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate: (options: Options) => Either.Either<Options, ConfigError.ConfigError> = internal.validate

/**
 * The store. It reads the clock through `Clock` (Redis TTLs are the tokens' remaining lives), logs one
 * warning when it loses Redis and one message when Redis is back, and counts every fallback in
 * `fallbackCounter`. Options given in code are checked with `validate`; invalid ones are a defect.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<TokenStoreModule.Service, never, Scope.Scope> = internal.make

/**
 * `TokenProvider` uses the store it finds in its context: provide this layer to it.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { TokenProvider } from "@oauth-cc/core"
 * import { RedisTokenStore } from "@oauth-cc/redis"
 * import { Layer, Redacted } from "effect"
 *
 * const TokenProviderLive = TokenProvider.layer({
 *   tokenUrl: "https://auth.example.com/oauth/token",
 *   clientId: "orders",
 *   clientSecret: Redacted.make(process.env.CLIENT_SECRET!)
 * }).pipe(
 *   Layer.provide(RedisTokenStore.layer({
 *     url: "redis://redis.internal:6379",
 *     encryptionKey: Redacted.make(process.env.TOKEN_STORE_KEY!)
 *   })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<TokenStore> => Layer.scoped(TokenStore, make(options))

/**
 * A `Config` reading `<prefix>_URL`, `<prefix>_ENCRYPTION_KEY` (redacted) and `<prefix>_KEY_PREFIX`
 * (optional), validated with `validate`. `overrides` supplies the options that have no variable.
 *
 * @since 0.1.0
 * @category config
 */
export const config: (
  prefix?: string,
  overrides?: Partial<StoreOptions>
) => Config.Config<Options> = internal.config

/**
 * A store from a `Config`, usually `RedisTokenStore.config()` (`OAUTH_REDIS_URL`,
 * `OAUTH_REDIS_ENCRYPTION_KEY`, …); fails at layer build with a `ConfigError` when it is missing or invalid.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<Options>
): Layer.Layer<TokenStore, ConfigError.ConfigError> => Layer.scoped(TokenStore, internal.makeFromConfig(config))

/**
 * Counts the operations that fell back to the local tier because Redis was unavailable or slow, tagged
 * `operation` (`get`, `set`, `remove`, `lock`) — `oauth_cc_redis_store_fallback_total`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const fallbackCounter: Metric.Metric.Counter<number> = internal.fallbackCounter
