import * as AccessToken from "@oauth-cc/core/AccessToken"
import * as TokenStore from "@oauth-cc/core/TokenStore"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import type { Cluster } from "ioredis"
import * as Crypto from "node:crypto"
import * as Os from "node:os"
import type * as RedisTokenStore from "../RedisTokenStore.js"
import * as Sealed from "./sealed.js"

/** @internal */
export const fallbackCounter = Metric.counter("oauth_cc_redis_store_fallback_total", {
  description: "Redis token store operations that fell back to the local tier (Redis unavailable or slow)",
  incremental: true
})

type Operation = "get" | "set" | "remove" | "lock"

const counters: Record<Operation, Metric.Metric.Counter<number>> = {
  get: Metric.tagged(fallbackCounter, "operation", "get"),
  set: Metric.tagged(fallbackCounter, "operation", "set"),
  remove: Metric.tagged(fallbackCounter, "operation", "remove"),
  lock: Metric.tagged(fallbackCounter, "operation", "lock")
}

const minimumKeyLength = 16

const invalid = (path: string, message: string) => Either.left(ConfigError.InvalidData([path], message))

const isPositiveDuration = (input: Duration.DurationInput | undefined): boolean => {
  if (input === undefined) return true
  const duration = Duration.decodeUnknown(input)
  return Option.isSome(duration) && Duration.isFinite(duration.value) && Duration.toMillis(duration.value) > 0
}

/** @internal */
export const validate = (
  options: RedisTokenStore.Options
): Either.Either<RedisTokenStore.Options, ConfigError.ConfigError> => {
  if ((options.url === undefined) === (options.client === undefined)) {
    return invalid("url", "give exactly one of url and client")
  }
  if (options.url !== undefined) {
    let url: URL
    try {
      url = new URL(options.url)
    } catch {
      return invalid("url", "is not a valid redis:// or rediss:// URL")
    }
    if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
      return invalid("url", `must use redis: or rediss:, not ${url.protocol}`)
    }
  }
  if (!Redacted.isRedacted(options.encryptionKey)) return invalid("encryptionKey", "must be Redacted")
  if (Redacted.value(options.encryptionKey).length < minimumKeyLength) {
    return invalid("encryptionKey", `must be at least ${minimumKeyLength} characters`)
  }
  for (
    const [path, value] of [
      ["lockTimeout", options.lockTimeout],
      ["commandTimeout", options.commandTimeout],
      ["pollInterval", options.pollInterval],
      ["maxPollInterval", options.maxPollInterval],
      ["connectTimeout", options.connectTimeout],
      ["maxWait", options.maxWait]
    ] as const
  ) {
    if (!isPositiveDuration(value)) return invalid(path, "must be a positive, finite duration")
  }
  if (options.maxCachedKeys !== undefined && !(Number.isInteger(options.maxCachedKeys) && options.maxCachedKeys > 0)) {
    return invalid("maxCachedKeys", "must be a positive integer")
  }
  return Either.right(options)
}

const millis = (input: Duration.DurationInput | undefined, fallback: Duration.DurationInput) =>
  Duration.toMillis(input ?? fallback)

interface Resolved {
  readonly keyPrefix: string
  readonly lockTimeoutMillis: number
  readonly commandTimeoutMillis: number
  readonly pollIntervalMillis: number
  readonly maxPollIntervalMillis: number
  readonly connectTimeoutMillis: number
  readonly maxWaitMillis: number
  readonly maxCachedKeys: number
}

const resolve = (options: RedisTokenStore.Options): Resolved => {
  const valid = validate(options)
  if (Either.isLeft(valid)) throw new Error(`invalid RedisTokenStore options: ${String(valid.left)}`)
  const pollIntervalMillis = millis(options.pollInterval, "25 millis")
  return {
    keyPrefix: options.keyPrefix ?? "oauth-cc:",
    lockTimeoutMillis: Math.ceil(millis(options.lockTimeout, "5 seconds")),
    commandTimeoutMillis: millis(options.commandTimeout, "500 millis"),
    pollIntervalMillis,
    maxPollIntervalMillis: Math.max(pollIntervalMillis, millis(options.maxPollInterval, "500 millis")),
    connectTimeoutMillis: millis(options.connectTimeout, "2 seconds"),
    maxWaitMillis: millis(options.maxWait, "30 seconds"),
    maxCachedKeys: options.maxCachedKeys ?? 1000
  }
}

/**
 * One round trip of the lock protocol, atomic: a token newer than the caller's (its expiry, in clear in the
 * sealed value, is later) is returned for adoption; else the lock is taken if free; else the lock's
 * remaining time is returned. Reading and locking in one script leaves no gap where a holder could store
 * a token and release between a waiter's read and its lock attempt. A lock without expiry (set by hand, by
 * an attacker or by a crashed old version; ours always carry one) is given `lockTimeout`, so it cannot
 * block the key forever.
 */
const acquireScript = `
local v = redis.call("GET", KEYS[1])
if v and string.sub(v, 1, 3) == "v1." then
  local dot = string.find(v, ".", 4, true)
  local exp = dot and tonumber(string.sub(v, 4, dot - 1))
  if exp and exp > tonumber(ARGV[1]) then return {1, v} end
end
if redis.call("SET", KEYS[2], ARGV[2], "NX", "PX", ARGV[3]) then return {2, ""} end
local ttl = redis.call("PTTL", KEYS[2])
if ttl == -1 then
  redis.call("PEXPIRE", KEYS[2], ARGV[3])
  ttl = tonumber(ARGV[3])
end
return {0, tostring(ttl)}
`

/** Extends the lock only if this process still holds it. */
const renewScript = `
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return 0
`

/** Deletes a key only if it still holds the given value: releases a lock only by its owner. */
const compareAndDeleteScript = `
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0
`

class Unavailable {
  readonly _tag = "Unavailable"
  constructor(readonly reason: string) {}
}

const reasonOf = (cause: unknown): string => {
  if (cause instanceof Error) {
    const code = (cause as { readonly code?: unknown }).code
    return `${cause.name}${typeof code === "string" ? ` ${code}` : ""}: ${cause.message.slice(0, 120)}`
  }
  return "unknown error"
}

type Client = Redis | Cluster

const createClient = (url: string, resolved: Resolved): Effect.Effect<Client, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const client = new Redis(url, {
        // Fail at once while disconnected: queued commands would replay stale lock attempts on reconnect.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: Math.ceil(resolved.commandTimeoutMillis),
        connectTimeout: Math.max(1000, Math.ceil(resolved.connectTimeoutMillis)),
        // Keep reconnecting, every second at most: the store recovers by itself when Redis returns.
        retryStrategy: (times) => Math.min(50 * times, 1000)
      })
      // Connection errors surface as failed commands (and one warning); the event itself is not news.
      client.on("error", () => {})
      return client
    }),
    (client) =>
      Effect.promise(() => client.quit().catch(() => undefined)).pipe(
        Effect.timeout("1 second"),
        Effect.ignore,
        Effect.ensuring(Effect.sync(() => client.disconnect()))
      )
  )

const awaitReady = (client: Client, timeoutMillis: number): Effect.Effect<void> =>
  client.status === "ready" ? Effect.void : Effect.async<void>((resume) => {
    const done = () => resume(Effect.void)
    client.once("ready", done)
    return Effect.sync(() => client.off("ready", done))
  }).pipe(Effect.timeout(Duration.millis(timeoutMillis)), Effect.ignore)

/** @internal */
export const make = (
  options: RedisTokenStore.Options
): Effect.Effect<TokenStore.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = resolve(options)
    const keys = yield* Sealed.deriveKeys(options.encryptionKey)
    let client: Client
    if (options.client !== undefined) {
      client = options.client
    } else {
      client = yield* createClient(options.url, resolved)
      yield* awaitReady(client, resolved.connectTimeoutMillis)
    }
    const local = yield* TokenStore.makeMemory({ maxKeys: resolved.maxCachedKeys })
    const owner = `${Os.hostname()}:${process.pid}:${Crypto.randomBytes(6).toString("hex")}`
    let lockCount = 0
    const names = new Map<string, { readonly token: string; readonly lock: string }>()
    const commandTimeout = Duration.millis(resolved.commandTimeoutMillis)

    /** Redis names of a cache key; the hash tag keeps both in one cluster slot for the lock script. */
    const namesOf = (key: string) => {
      let found = names.get(key)
      if (found === undefined) {
        const hash = Sealed.keyName(keys, key)
        found = { token: `${resolved.keyPrefix}{${hash}}:token`, lock: `${resolved.keyPrefix}{${hash}}:lock` }
        if (names.size >= resolved.maxCachedKeys) names.clear()
        names.set(key, found)
      }
      return found
    }

    const command = <A>(run: () => Promise<A>): Effect.Effect<A, Unavailable> =>
      Effect.tryPromise({ try: run, catch: (cause) => new Unavailable(reasonOf(cause)) }).pipe(
        Effect.timeoutFail({ duration: commandTimeout, onTimeout: () => new Unavailable("command timed out") })
      )

    // Health: one warning when Redis is lost, one message when it is back; every fallback is counted.
    let degraded = false
    const fallback = (operation: Operation, error: Unavailable) =>
      Effect.suspend(() => {
        const first = !degraded
        degraded = true
        const count = Metric.increment(counters[operation])
        return first
          ? Effect.zipRight(
            count,
            Effect.logWarning(
              "RedisTokenStore: Redis is unavailable; using the local tier and fetching tokens in this process"
            ).pipe(Effect.annotateLogs({ operation, reason: error.reason }))
          )
          : count
      })
    const healthy = Effect.suspend(() => {
      if (!degraded) return Effect.void
      degraded = false
      return Effect.logInfo("RedisTokenStore: Redis is available again; sharing tokens across the fleet")
    })

    /**
     * The wall-clock expiry each token has in Redis, by token object. The lock script tells a newer token from
     * the one this process holds by comparing expiries; converting back from the monotonic line could differ by
     * a rounding or a slew and make the same token look newer, so the exact stored figure is kept.
     */
    const storedExpiry = new WeakMap<AccessToken.AccessToken, number>()

    let undecryptableLogged = false
    const openValue = (redisKey: string, sealed: string) =>
      Effect.suspend(() => {
        const token = Sealed.open(keys, redisKey, sealed)
        // Redis holds expiry on the wall clock, the time line the fleet shares; this process reads on its own.
        if (Option.isSome(token)) {
          return Effect.map(AccessToken.fromWallClock(token.value), (local) => {
            storedExpiry.set(local, token.value.expiresAt)
            return Option.some(local)
          })
        }
        if (undecryptableLogged) return Effect.succeed(token)
        undecryptableLogged = true
        return Effect.as(
          Effect.logWarning("RedisTokenStore: a stored value could not be decrypted (other secret, or tampered with)"),
          token
        )
      })

    const readRemote = (key: string) => {
      const redisKey = namesOf(key).token
      return Effect.flatMap(
        command(() => client.get(redisKey)),
        (sealed) => sealed === null ? Effect.succeedNone : openValue(redisKey, sealed)
      )
    }

    /** Local tier first: the warm path is a map lookup. Redis only when this process has no copy yet. */
    const get = (key: string): Effect.Effect<Option.Option<AccessToken.AccessToken>> =>
      Effect.flatMap(local.get(key), (cached) =>
        Option.isSome(cached)
          ? Effect.succeed(cached)
          : readRemote(key).pipe(
            Effect.tap((remote) => Option.isSome(remote) ? local.set(key, remote.value) : Effect.void),
            Effect.zipLeft(healthy),
            Effect.catchAll((error) => Effect.as(fallback("get", error), Option.none()))
          ))

    const set = (key: string, token: AccessToken.AccessToken): Effect.Effect<void> =>
      Effect.zipRight(
        local.set(key, token),
        Effect.flatMap(Effect.zip(AccessToken.toWallClock(token), Clock.currentTimeMillis), ([wall, now]) => {
          const ttl = Math.ceil(wall.expiresAt - now)
          if (ttl <= 0) return Effect.void
          storedExpiry.set(token, wall.expiresAt)
          const redisKey = namesOf(key).token
          return command(() => client.set(redisKey, Sealed.seal(keys, redisKey, wall), "PX", ttl)).pipe(
            Effect.zipRight(healthy),
            Effect.catchAll((error) => fallback("set", error))
          )
        })
      )

    const remove = (key: string, token?: AccessToken.AccessToken): Effect.Effect<void> => {
      const redisKey = namesOf(key).token
      const remote = token === undefined
        ? command(() => client.del(redisKey))
        : Effect.flatMap(command(() => client.get(redisKey)), (sealed) => {
          if (sealed === null) return Effect.void
          const stored = Sealed.open(keys, redisKey, sealed)
          if (Option.isSome(stored) && !AccessToken.isSameValue(stored.value, token)) return Effect.void
          return command(() => client.eval(compareAndDeleteScript, 1, redisKey, sealed))
        })
      return Effect.zipRight(
        local.remove(key, token),
        remote.pipe(Effect.zipRight(healthy), Effect.catchAll((error) => fallback("remove", error)), Effect.asVoid)
      )
    }

    type Attempt =
      | { readonly _tag: "Newer"; readonly token: AccessToken.AccessToken }
      | { readonly _tag: "Acquired"; readonly lockValue: string }
      | { readonly _tag: "Held"; readonly remainingMillis: number }
      | { readonly _tag: "Unreadable" }

    const attempt = (
      redisKey: string,
      lockKey: string,
      knownExpiresAt: number
    ): Effect.Effect<Attempt, Unavailable> =>
      Effect.suspend(() => {
        const lockValue = `${owner}:${++lockCount}`
        return Effect.flatMap(
          command(() =>
            client.eval(acquireScript, 2, redisKey, lockKey, knownExpiresAt, lockValue, resolved.lockTimeoutMillis)
          ),
          (reply): Effect.Effect<Attempt> => {
            const [code, payload] = Array.isArray(reply) ? reply as [unknown, unknown] : [undefined, undefined]
            if (code === 2) return Effect.succeed({ _tag: "Acquired", lockValue })
            if (code === 1 && typeof payload === "string") {
              return Effect.map(
                openValue(redisKey, payload),
                (token) => Option.isSome(token) ? { _tag: "Newer", token: token.value } : { _tag: "Unreadable" }
              )
            }
            const remaining = Number(payload)
            return Effect.succeed({
              _tag: "Held",
              remainingMillis: Number.isFinite(remaining) && remaining > 0 ? remaining : 0
            })
          }
        )
      })

    /** While `fetch` runs, the holder extends its lock every third of `lockTimeout`; if it dies, the lock expires. */
    const keepLock = (lockKey: string, lockValue: string) =>
      Effect.sleep(Duration.millis(resolved.lockTimeoutMillis / 3)).pipe(
        Effect.zipRight(
          command(() => client.eval(renewScript, 1, lockKey, lockValue, resolved.lockTimeoutMillis)).pipe(Effect.ignore)
        ),
        Effect.forever
      )

    const release = (lockKey: string, lockValue: string) =>
      command(() => client.eval(compareAndDeleteScript, 1, lockKey, lockValue)).pipe(
        Effect.catchAll((error) => fallback("lock", error)),
        Effect.asVoid
      )

    /**
     * Across the fleet, one `fetch` per key at a time. `fetch` (from `TokenProvider`) re-reads the store and
     * uses a token that is not due yet, so adopting a newer token into the local tier before running it is
     * enough to make it skip the request. A process that finds the lock held polls, with backoff, until a
     * newer token appears or the lock is free (released, or expired `lockTimeout` after its holder died).
     * Redis failing at any step: `fetch` runs here, unlocked. Waiting is bounded by `maxWait`.
     */
    const withFetchLock = <A, E, R>(key: string, fetch: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.gen(function*() {
        const { lock: lockKey, token: redisKey } = namesOf(key)
        const known = yield* local.get(key)
        // compared in Redis with the stored expiry, which is on the wall clock
        const knownExpiresAt = Option.isNone(known)
          ? -1
          : storedExpiry.get(known.value) ?? (yield* AccessToken.toWallClock(known.value)).expiresAt
        const start = yield* Clock.currentTimeMillis
        const deadline = start + resolved.maxWaitMillis
        let interval = resolved.pollIntervalMillis
        while (true) {
          const result = yield* Effect.either(attempt(redisKey, lockKey, knownExpiresAt))
          if (Either.isLeft(result)) {
            yield* fallback("lock", result.left)
            return yield* fetch
          }
          yield* healthy
          const step = result.right
          switch (step._tag) {
            case "Newer": {
              yield* local.set(key, step.token)
              return yield* fetch
            }
            case "Acquired": {
              const keeper = yield* Effect.fork(keepLock(lockKey, step.lockValue))
              return yield* Effect.ensuring(
                fetch,
                Effect.zipRight(Fiber.interrupt(keeper), release(lockKey, step.lockValue))
              )
            }
            case "Unreadable": {
              // A value this process cannot open (another secret, tampering): fetch, and overwrite it.
              return yield* fetch
            }
            case "Held": {
              const now = yield* Clock.currentTimeMillis
              if (now >= deadline) {
                yield* Effect.logWarning("RedisTokenStore: gave up waiting for the fetch lock; fetching here")
                return yield* fetch
              }
              // Every wait backs off: `interval` doubles to `maxPollInterval` whatever the lock reports. Wake
              // when the lock expires only if that is later than half the interval; a tiny, zero or junk
              // remaining time (a lock re-taken in a loop, or a lying server) would otherwise make every
              // wait the shortest one, a poll every `pollInterval` for the whole `maxWait`.
              const left = deadline - now
              const expiry = step.remainingMillis + 1
              const wait = Math.min(expiry > interval / 2 && expiry < interval ? expiry : interval, left)
              yield* Effect.sleep(Duration.millis(wait))
              interval = Math.min(interval * 2, resolved.maxPollIntervalMillis)
            }
          }
        }
      })

    return { get, set, remove, withFetchLock, shared: true } satisfies TokenStore.Service
  })

const optional = <A>(config: Config.Config<A>) =>
  Config.option(config).pipe(Config.map((o) => o._tag === "Some" ? o.value : undefined))

/** @internal */
export const config = (
  prefix = "OAUTH_REDIS",
  overrides: Partial<RedisTokenStore.StoreOptions> = {}
): Config.Config<RedisTokenStore.Options> => {
  const fields = Config.all({
    url: Config.string("URL"),
    encryptionKey: Config.redacted("ENCRYPTION_KEY"),
    keyPrefix: optional(Config.string("KEY_PREFIX"))
  })
  return (prefix === "" ? fields : Config.nested(fields, prefix)).pipe(
    Config.mapOrFail((env) => {
      const options: RedisTokenStore.Options = {
        ...overrides,
        url: env.url,
        encryptionKey: env.encryptionKey,
        ...(env.keyPrefix === undefined ? {} : { keyPrefix: env.keyPrefix })
      }
      return Either.mapLeft(validate(options), (error) => prefix === "" ? error : ConfigError.prefixed(error, [prefix]))
    })
  )
}

/** @internal */
export const makeFromConfig = (
  config: Config.Config<RedisTokenStore.Options>
): Effect.Effect<TokenStore.Service, ConfigError.ConfigError, Scope.Scope> => Effect.flatMap(config, make)
