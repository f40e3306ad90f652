import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { assert, describe, it, layer } from "@effect/vitest"
import * as AccessToken from "@oauth-cc/core/AccessToken"
import * as TokenProvider from "@oauth-cc/core/TokenProvider"
import * as TokenStore from "@oauth-cc/core/TokenStore"
import { FakeAuthServer } from "@oauth-cc/testkit"
import * as Clock from "effect/Clock"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as net from "node:net"
import * as Sealed from "../src/internal/sealed.js"
import * as RedisTokenStore from "../src/RedisTokenStore.js"
import type { RedisServer } from "./fixtures/redisServer.js"
import {
  authServer,
  canaryMarker,
  commandCalls,
  dump,
  encryptionKey,
  freshPrefix,
  issuedValues,
  redisServer
} from "./utils.js"

class Redis extends Context.Tag("test/Redis")<Redis, RedisServer>() {}

const storeFor = (server: RedisServer, keyPrefix: string, options: Partial<RedisTokenStore.StoreOptions> = {}) =>
  RedisTokenStore.make({ url: server.url, keyPrefix, encryptionKey, commandTimeout: 1000, ...options })

const tokenAt = (now: number, value: string, lifeMillis = 60_000) =>
  AccessToken.make({ value, issuedAt: now, expiresAt: now + lifeMillis, scope: ["read", "write"], tokenType: "DPoP" })

const value = (token: AccessToken.AccessToken) => Redacted.value(token.value)

const providerWith = (store: TokenStore.Service, tokenUrl: string) =>
  TokenProvider.make({
    tokenUrl,
    clientId: FakeAuthServer.defaultClient.id,
    clientSecret: Redacted.make(FakeAuthServer.defaultClient.secret)
  }).pipe(
    Effect.provideService(TokenStore.TokenStore, store),
    Effect.provide(FetchHttpClient.layer)
  )

const lockKeyOf = (keyPrefix: string, cacheKey: string) =>
  Effect.map(Sealed.deriveKeys(encryptionKey), (keys) => `${keyPrefix}{${Sealed.keyName(keys, cacheKey)}}:lock`)

const elapsedOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const result = yield* effect
    return [result, (yield* Clock.currentTimeMillis) - start] as const
  })

const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ message }) => {
    lines.push(Array.isArray(message) ? message.join(" ") : String(message))
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

const fallbacks = (operation: string) =>
  Effect.map(Metric.value(Metric.tagged(RedisTokenStore.fallbackCounter, "operation", operation)), (s) => s.count)

/**
 * Lock polls the waiter sends in `windowMillis` with `pollInterval` doubling up to `maxPollInterval`, plus
 * slack for the first attempt and the one after the lock frees: backoff, never a busy loop (about 500 polls a
 * second before, one per millisecond).
 */
const pollBound = (windowMillis: number, pollInterval: number, maxPollInterval: number) => {
  let polls = 2
  for (
    let waited = 0, interval = pollInterval;
    waited < windowMillis;
    interval = Math.min(interval * 2, maxPollInterval)
  ) {
    waited += interval
    polls++
  }
  return polls
}

describe("RedisTokenStore.validate and config", () => {
  const good = { url: "redis://127.0.0.1:6379", encryptionKey } as const
  const bad: ReadonlyArray<[string, RedisTokenStore.Options, string]> = [
    ["a short encryption key", { ...good, encryptionKey: Redacted.make("short") }, "at least 16"],
    ["a non-redis URL", { ...good, url: "http://127.0.0.1:6379" }, "redis: or rediss:"],
    ["a malformed URL", { ...good, url: "not a url" }, "not a valid"],
    ["a zero lock timeout", { ...good, lockTimeout: 0 }, "lockTimeout"],
    ["a fractional maxCachedKeys", { ...good, maxCachedKeys: 1.5 }, "maxCachedKeys"]
  ]
  for (const [name, options, expected] of bad) {
    it("rejects " + name, () => {
      const result = RedisTokenStore.validate(options)
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) assert.include(String(result.left), expected)
    })
  }
  it("accepts the defaults and never shows the key", () => {
    const result = RedisTokenStore.validate(good)
    assert.isTrue(Either.isRight(result))
    assert.notInclude(JSON.stringify(good), Redacted.value(encryptionKey))
  })

  it.effect("config reads OAUTH_REDIS_URL, _ENCRYPTION_KEY (redacted) and _KEY_PREFIX", () =>
    Effect.gen(function*() {
      const env = (vars: Record<string, string>) =>
        ConfigProvider.fromMap(new Map(Object.entries(vars)), { pathDelim: "_" })
      const options = yield* Effect.withConfigProvider(
        RedisTokenStore.config(),
        env({
          OAUTH_REDIS_URL: "rediss://cache.internal:6380",
          OAUTH_REDIS_ENCRYPTION_KEY: Redacted.value(encryptionKey),
          OAUTH_REDIS_KEY_PREFIX: "svc:"
        })
      )
      assert.strictEqual(options.url, "rediss://cache.internal:6380")
      assert.strictEqual(options.keyPrefix, "svc:")
      assert.isTrue(Redacted.isRedacted(options.encryptionKey))
      const missing = yield* Effect.either(
        Effect.withConfigProvider(RedisTokenStore.config(), env({ OAUTH_REDIS_URL: "redis://x:1" }))
      )
      assert.isTrue(Either.isLeft(missing))
      const weak = yield* Effect.either(Effect.withConfigProvider(
        RedisTokenStore.config(),
        env({ OAUTH_REDIS_URL: "redis://x:1", OAUTH_REDIS_ENCRYPTION_KEY: "weak" })
      ))
      assert.isTrue(Either.isLeft(weak))
      if (Either.isLeft(weak)) assert.notInclude(String(weak.left), "weak\"")
    }))
})

layer(Layer.scoped(Redis, redisServer), { excludeTestServices: true })("RedisTokenStore with Redis", (it) => {
  it.scoped("a token set by one process is served to another, with its remaining life as Redis TTL", () =>
    Effect.gen(function*() {
      const server = yield* Redis
      const prefix = freshPrefix()
      const a = yield* storeFor(server, prefix)
      const b = yield* storeFor(server, prefix)
      const now = yield* Clock.currentTimeMillis
      const token = tokenAt(now, `${canaryMarker}-roundtrip`)
      yield* a.set("key-1", token)
      const read = yield* b.get("key-1")
      assert.isTrue(Option.isSome(read))
      const got = Option.getOrThrow(read)
      assert.strictEqual(value(got), value(token))
      assert.strictEqual(got.tokenType, "DPoP")
      // stored on the wall clock, read back on the monotonic line: the two reads may round 1 ms apart each
      assert.isAtMost(Math.abs(got.issuedAt - token.issuedAt), 2)
      assert.isAtMost(Math.abs(got.expiresAt - token.expiresAt), 2)
      assert.deepStrictEqual(got.scope, ["read", "write"])
      const [[key]] = (yield* dump(server)).filter(([k]) => k.startsWith(prefix))
      const ttl = Number(yield* Effect.promise(() => server.cli("PTTL", key)))
      assert.isTrue(ttl > 55_000 && ttl <= 60_000, `PTTL ${ttl}`)
      assert.isTrue(b.shared)
    }))

  it.scoped("a process whose wall clock was stepped an hour after it started stores expiry on the wall clock the fleet shares", () =>
    Effect.gen(function*() {
      const server = yield* Redis
      const prefix = freshPrefix()
      const base = yield* Effect.clock
      const hour = 3_600_000
      // Process A started with its wall clock an hour behind, then NTP stepped it right: A's monotonic line
      // still runs an hour behind the wall clock the fleet shares.
      const stepped: Clock.Clock = {
        [Clock.ClockTypeId]: Clock.ClockTypeId,
        unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis(),
        currentTimeMillis: base.currentTimeMillis,
        unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos() - BigInt(hour) * 1_000_000n,
        currentTimeNanos: Effect.sync(() => base.unsafeCurrentTimeNanos() - BigInt(hour) * 1_000_000n),
        sleep: (duration) => base.sleep(duration)
      }
      const a = yield* storeFor(server, prefix)
      const b = yield* storeFor(server, prefix)
      const monotonicNow = () => Math.floor(Number(base.unsafeCurrentTimeNanos()) / 1e6)
      const token = tokenAt(monotonicNow() - hour, `${canaryMarker}-stepped`)
      yield* Effect.withClock(a.set("key-stepped", token), stepped)
      const [[key]] = (yield* dump(server)).filter(([k]) => k.startsWith(prefix))
      const ttl = Number(yield* Effect.promise(() => server.cli("PTTL", key)))
      assert.isTrue(ttl > 55_000 && ttl <= 60_000, `PTTL ${ttl}: the token's remaining life, not an hour off`)
      // Process B's clocks agree: it reads the token with its 60 s of life on its own monotonic line.
      const read = Option.getOrThrow(yield* b.get("key-stepped"))
      const left = read.expiresAt - monotonicNow()
      assert.isTrue(left > 55_000 && left <= 60_000, `remaining ${left} ms`)
    }))

  it.scoped("Redis holds no readable token: no canary in values, no endpoint, client or scope in keys", () =>
    Effect.gen(function*() {
      const server = yield* Redis
      const prefix = freshPrefix()
      const auth = yield* authServer()
      const provider = yield* providerWith(yield* storeFor(server, prefix), auth.tokenUrl)
      yield* provider.getFor({ scope: "orders:read", audience: "https://api.example.test" })
      yield* provider.get
      const tokens = yield* issuedValues(auth)
      assert.strictEqual(tokens.length, 2)
      const entries = (yield* dump(server)).filter(([k]) => k.startsWith(prefix))
      assert.strictEqual(entries.length, 2)
      const { id, secret } = FakeAuthServer.defaultClient
      for (const [key, stored] of entries) {
        for (const needle of [...tokens, id, secret, "127.0.0.1", "orders", "api.example"]) {
          assert.notInclude(key, needle)
          assert.notInclude(stored, needle)
        }
        assert.match(stored, /^v1\.\d+\.[A-Za-z0-9_-]+$/)
        // Not even base64-encoded: the token is encrypted, not encoded.
        const decoded = Buffer.from(stored.split(".")[2], "base64url").toString("latin1")
        for (const token of tokens) assert.notInclude(decoded, token)
      }
    }))

  it.scoped("a value moved to another key, tampered with, or written under another secret is not served", () =>
    Effect.gen(function*() {
      const server = yield* Redis
      const prefix = freshPrefix()
      const a = yield* storeFor(server, prefix)
      const now = yield* Clock.currentTimeMillis
      yield* a.set("key-1", tokenAt(now, `${canaryMarker}-1`))
      yield* a.set("key-2", tokenAt(now, `${canaryMarker}-2`))
      const entries = (yield* dump(server)).filter(([k]) => k.startsWith(prefix))
      assert.strictEqual(entries.length, 2)
      const [[key1, value1], [key2, value2]] = entries
      // Swap the two values: the AAD binds each to its key.
      yield* Effect.promise(() => server.cli("SET", key1, value2))
      yield* Effect.promise(() => server.cli("SET", key2, value1))
      const fresh = yield* storeFor(server, prefix)
      assert.isTrue(Option.isNone(yield* fresh.get("key-1")))
      assert.isTrue(Option.isNone(yield* fresh.get("key-2")))
      // Flip one character of the ciphertext.
      const flipped = value1.slice(0, -3) + (value1.at(-3) === "A" ? "B" : "A") + value1.slice(-2)
      yield* Effect.promise(() => server.cli("SET", key1, flipped))
      assert.isTrue(Option.isNone(yield* (yield* storeFor(server, prefix)).get("key-1")))
      // Another secret names its keys differently and cannot read these.
      const other = yield* storeFor(server, prefix, { encryptionKey: Redacted.make("another-secret-0123456789") })
      assert.isTrue(Option.isNone(yield* other.get("key-2")))
      yield* other.set("key-2", tokenAt(now, `${canaryMarker}-other`))
      assert.strictEqual((yield* dump(server)).filter(([k]) => k.startsWith(prefix)).length, 3)
    }))

  it.scoped("two parameter sets never share a key, and each is served its own token by another process", () =>
    Effect.gen(function*() {
      const server = yield* Redis
      const prefix = freshPrefix()
      const auth = yield* authServer()
      const first = yield* providerWith(yield* storeFor(server, prefix), auth.tokenUrl)
      const sets: ReadonlyArray<TokenProvider.Params> = [
        { scope: "read" },
        { scope: "write" },
        { scope: "read", audience: "https://a.example.test" },
        { scope: "read", resource: "https://r.example.test" }
      ]
      const tokens: Array<string> = []
      for (const params of sets) tokens.push(value(yield* first.getFor(params)))
      assert.strictEqual(new Set(tokens).size, sets.length)
      assert.strictEqual((yield* dump(server)).filter(([k]) => k.startsWith(prefix)).length, sets.length)
      const second = yield* providerWith(yield* storeFor(server, prefix), auth.tokenUrl)
      for (const [i, params] of sets.entries()) assert.strictEqual(value(yield* second.getFor(params)), tokens[i])
      // Same set, other order and spacing: the same key.
      assert.strictEqual(value(yield* second.getFor({ scope: " read " })), tokens[0])
      assert.strictEqual(yield* Effect.promise(auth.tokenRequestCount), sets.length)
    }))

  it.scoped("the warm path reads the local tier: 500 gets send no command to Redis", () =>
    Effect.gen(function*() {
      const server = yield* Redis
      const auth = yield* authServer()
      const provider = yield* providerWith(yield* storeFor(server, freshPrefix()), auth.tokenUrl)
      yield* provider.get
      const before = yield* Effect.all([commandCalls(server, "get"), commandCalls(server, "eval")])
      yield* Effect.repeatN(provider.get, 499)
      const after = yield* Effect.all([commandCalls(server, "get"), commandCalls(server, "eval")])
      assert.deepStrictEqual(after, before)
      assert.strictEqual(yield* Effect.promise(auth.tokenRequestCount), 1)
    }))

  /** Process a holds the lock and fetches for `fetchMillis`; process b asks 50 ms later. */
  const holderAndWaiter = (fetchMillis: number, options: Partial<RedisTokenStore.StoreOptions> = {}) =>
    Effect.gen(function*() {
      const server = yield* Redis
      const prefix = freshPrefix()
      const a = yield* storeFor(server, prefix, options)
      const b = yield* storeFor(server, prefix, options)
      const token = tokenAt(yield* Clock.currentTimeMillis, `${canaryMarker}-locked`)
      const holder = yield* Effect.fork(a.withFetchLock(
        "key",
        Effect.sleep(fetchMillis).pipe(Effect.zipRight(a.set("key", token)), Effect.as("a fetched"))
      ))
      yield* Effect.sleep("50 millis")
      const [waiter, elapsed] = yield* elapsedOf(b.withFetchLock(
        "key",
        Effect.map(b.get("key"), Option.match({ onNone: () => "b fetched", onSome: (t) => `b adopted ${value(t)}` }))
      ))
      return { waiter, elapsed, holder: yield* Fiber.join(holder), server }
    })

  it.scoped("withFetchLock: one process fetches, the other waits and adopts its token", () =>
    Effect.gen(function*() {
      const { elapsed, holder, server, waiter } = yield* holderAndWaiter(300)
      assert.strictEqual(waiter, `b adopted ${canaryMarker}-locked`)
      assert.isTrue(elapsed >= 200, `waited ${elapsed} ms`)
      assert.strictEqual(holder, "a fetched")
      assert.deepStrictEqual((yield* dump(server)).filter(([k]) => k.endsWith(":lock")), [])
    }))

  it.scoped("a live holder extends its lock while its request outlasts lockTimeout; the waiter adopts", () =>
    Effect.gen(function*() {
      const { elapsed, holder, waiter } = yield* holderAndWaiter(1000, { lockTimeout: 300 })
      assert.strictEqual(waiter, `b adopted ${canaryMarker}-locked`)
      assert.isTrue(elapsed >= 850, `waited ${elapsed} ms`)
      assert.strictEqual(holder, "a fetched")
    }))

  it.scoped("a crashed holder's lock expires after lockTimeout and a waiter takes over", () =>
    Effect.gen(function*() {
      const server = yield* Redis
      const prefix = freshPrefix()
      const lockKey = yield* lockKeyOf(prefix, "key")
      const b = yield* storeFor(server, prefix, { lockTimeout: 600, pollInterval: 10 })
      const start = yield* Clock.currentTimeMillis
      yield* Effect.promise(() => server.cli("SET", lockKey, "crashed-process", "PX", "600"))
      const result = yield* b.withFetchLock("key", Effect.succeed("b fetched"))
      const elapsed = (yield* Clock.currentTimeMillis) - start
      assert.strictEqual(result, "b fetched")
      assert.isTrue(elapsed >= 550 && elapsed < 2000, `took over after ${elapsed} ms`)
    }))

  it.scoped("a lock without expiry (PTTL -1) gets one: the waiter backs off and takes over after lockTimeout", () =>
    Effect.gen(function*() {
      const server = yield* Redis
      const prefix = freshPrefix()
      const lockKey = yield* lockKeyOf(prefix, "key")
      const b = yield* storeFor(server, prefix, { lockTimeout: 600, maxWait: 20_000 })
      yield* Effect.promise(() => server.cli("SET", lockKey, "no-expiry"))
      const before = yield* commandCalls(server, "eval")
      const [result, elapsed] = yield* elapsedOf(b.withFetchLock("key", Effect.succeed("b fetched")))
      const polls = (yield* commandCalls(server, "eval")) - before
      assert.strictEqual(result, "b fetched")
      assert.isTrue(elapsed >= 550 && elapsed < 10_000, `took over after ${elapsed} ms`)
      // Each poll is one EVAL; the fetch's release is one more.
      assert.isAtMost(polls, pollBound(elapsed, 25, 500) + 1, `${polls} polls in ${elapsed} ms`)
    }))

  it.scoped("a lock kept without expiry by someone else: the waiter backs off and fetches itself after maxWait", () =>
    Effect.gen(function*() {
      const server = yield* Redis
      const prefix = freshPrefix()
      const lockKey = yield* lockKeyOf(prefix, "key")
      const b = yield* storeFor(server, prefix, { lockTimeout: 5000, maxWait: 1500 })
      const squat = Effect.promise(() => server.cli("SET", lockKey, "squatter"))
      yield* squat
      yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep("100 millis"), squat)))
      const before = yield* commandCalls(server, "eval")
      const [result, elapsed] = yield* elapsedOf(
        b.withFetchLock("key", Effect.succeed("b fetched")).pipe(Effect.provide(Logger.remove(Logger.defaultLogger)))
      )
      const polls = (yield* commandCalls(server, "eval")) - before
      assert.strictEqual(result, "b fetched")
      assert.isTrue(elapsed >= 1450 && elapsed < 15_000, `fetched after ${elapsed} ms`)
      assert.isAtMost(polls, pollBound(elapsed, 25, 500), `${polls} polls in ${elapsed} ms`)
      const pttl = Number((yield* Effect.promise(() => server.cli("PTTL", lockKey))).trim())
      assert.isTrue(pttl === -1 || pttl > 0, "the squatter's own SET, or the expiry the waiter gave it")
    }))

  it.scoped("a holder releases only its own lock", () =>
    Effect.gen(function*() {
      const server = yield* Redis
      const prefix = freshPrefix()
      const lockKey = yield* lockKeyOf(prefix, "key")
      const a = yield* storeFor(server, prefix, { lockTimeout: 200 })
      // a's fetch outlives its lock; meanwhile another process takes the lock.
      yield* a.withFetchLock(
        "key",
        Effect.sleep("300 millis").pipe(
          Effect.zipRight(Effect.promise(() => server.cli("SET", lockKey, "next-holder", "PX", "5000")))
        )
      )
      assert.strictEqual((yield* Effect.promise(() => server.cli("GET", lockKey))).trim(), "next-holder")
    }))

  it.scoped("remove with a token removes only that token, everywhere", () =>
    Effect.gen(function*() {
      const server = yield* Redis
      const prefix = freshPrefix()
      const a = yield* storeFor(server, prefix)
      const now = yield* Clock.currentTimeMillis
      const t1 = tokenAt(now, `${canaryMarker}-1`)
      yield* a.set("key", t1)
      yield* a.remove("key", tokenAt(now, `${canaryMarker}-2`))
      assert.isTrue(Option.isSome(yield* (yield* storeFor(server, prefix)).get("key")))
      yield* a.remove("key", t1)
      assert.isTrue(Option.isNone(yield* a.get("key")))
      assert.isTrue(Option.isNone(yield* (yield* storeFor(server, prefix)).get("key")))
    }))
})

describe("RedisTokenStore without Redis", () => {
  it.scopedLive("Redis stopped: fall back at once, one warning, counted; shared again when Redis returns", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const server = yield* redisServer
      const prefix = freshPrefix()
      const store = yield* storeFor(server, prefix)
      const now = yield* Clock.currentTimeMillis
      const before = yield* Effect.all([fallbacks("get"), fallbacks("lock"), fallbacks("set")])
      yield* Effect.promise(server.stop)
      yield* Effect.sleep("100 millis")
      const [, elapsed] = yield* elapsedOf(Effect.gen(function*() {
        for (let i = 0; i < 10; i++) {
          assert.isTrue(Option.isNone(yield* store.get(`missing-${i}`)))
          assert.strictEqual(yield* store.withFetchLock(`missing-${i}`, Effect.succeed("fetched here")), "fetched here")
          yield* store.set("key", tokenAt(now, `${canaryMarker}-local`))
          assert.strictEqual(value(Option.getOrThrow(yield* store.get("key"))), `${canaryMarker}-local`)
        }
      }))
      // Without fail-fast, each would wait commandTimeout (1 s).
      assert.isTrue(elapsed < 1000, `40 operations took ${elapsed} ms without Redis`)
      const after = yield* Effect.all([fallbacks("get"), fallbacks("lock"), fallbacks("set")])
      assert.deepStrictEqual(after.map((n, i) => n - before[i]), [10, 10, 10])
      assert.strictEqual(logs.lines.filter((l) => l.includes("Redis is unavailable")).length, 1)

      yield* Effect.promise(server.start)
      let shared = false
      for (let i = 0; i < 40 && !shared; i++) {
        yield* Effect.sleep("100 millis")
        yield* store.set("key", tokenAt(now, `${canaryMarker}-again`))
        shared = (yield* dump(server)).some(([k]) => k.startsWith(prefix))
      }
      assert.isTrue(shared, "the store writes to Redis again after it restarts")
      assert.strictEqual(logs.lines.filter((l) => l.includes("available again")).length, 1)
      assert.strictEqual(logs.lines.filter((l) => l.includes("Redis is unavailable")).length, 1)
      assert.isTrue(logs.lines.every((l) => !l.includes(canaryMarker)))
    }).pipe(Effect.provide(logs.layer))
  })

  it.scopedLive("Redis hung (SIGSTOP): each operation gives up after commandTimeout", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const store = yield* storeFor(server, freshPrefix(), { commandTimeout: 200 })
      server.pause()
      yield* Effect.addFinalizer(() => Effect.sync(server.resume))
      const [result, elapsed] = yield* elapsedOf(store.withFetchLock("key", Effect.succeed("fetched here")))
      assert.strictEqual(result, "fetched here")
      assert.isTrue(elapsed >= 150 && elapsed < 1000, `gave up after ${elapsed} ms`)
      const [read, readElapsed] = yield* elapsedOf(store.get("other"))
      assert.isTrue(Option.isNone(read))
      assert.isTrue(readElapsed < 1000)
      server.resume()
    }).pipe(Effect.provide(Logger.remove(Logger.defaultLogger))))
})

/**
 * A RESP server written here, in front of nothing: every EVAL (the lock attempt) answers `[0, ttl]`, "held by
 * another process, `ttl` ms left", forever (an attacker or a runaway process re-taking the lock in a loop).
 * It counts the EVALs. ioredis's handshake (INFO, CLIENT, SELECT…) gets harmless answers.
 */
const heldForever = (ttl: string) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: net.Server; readonly url: string; readonly evals: () => number }>((resume) => {
      let evals = 0
      const server = net.createServer((socket) => {
        let pending = ""
        socket.on("error", () => {})
        socket.on("data", (chunk: Buffer) => {
          pending += chunk.toString("latin1")
          while (true) {
            // One array of bulk strings: *n, then n times $len and the bytes.
            const header = /^\*(\d+)\r\n/.exec(pending)
            if (header === null) return
            let at = header[0].length
            const args: Array<string> = []
            for (let i = 0; i < Number(header[1]); i++) {
              const bulk = /^\$(\d+)\r\n/.exec(pending.slice(at))
              if (bulk === null) return
              const length = Number(bulk[1])
              const from = at + bulk[0].length
              if (pending.length < from + length + 2) return
              args.push(pending.slice(from, from + length))
              at = from + length + 2
            }
            pending = pending.slice(at)
            const command = (args[0] ?? "").toUpperCase()
            if (command === "EVAL" || command === "EVALSHA") {
              evals++
              socket.write(`*2\r\n:0\r\n$${ttl.length}\r\n${ttl}\r\n`)
            } else if (command === "INFO") socket.write("$11\r\nloading:0\r\n\r\n")
            else if (command === "GET") socket.write("$-1\r\n")
            else if (command === "PING") socket.write("+PONG\r\n")
            else socket.write("+OK\r\n")
          }
        })
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({
          server,
          url: `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
          evals: () => evals
        })))
    }),
    ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  )

describe("RedisTokenStore against a Redis that always says the lock is held", () => {
  it.scopedLive("a tiny, zero, negative or junk remaining TTL: the waiter still backs off to maxPollInterval", () =>
    Effect.gen(function*() {
      const maxWait = 1500
      const results = yield* Effect.forEach(["1", "0", "-2", "junk"], (ttl) =>
        Effect.gen(function*() {
          const redis = yield* heldForever(ttl)
          const store = yield* RedisTokenStore.make({ url: redis.url, encryptionKey, maxWait, commandTimeout: 1000 })
          const before = redis.evals()
          const [result, elapsed] = yield* elapsedOf(
            store.withFetchLock("key", Effect.succeed("fetched here")).pipe(
              Effect.provide(Logger.remove(Logger.defaultLogger))
            )
          )
          return { ttl, result, elapsed, polls: redis.evals() - before }
        }), { concurrency: "unbounded" })
      for (const { elapsed, polls, result, ttl } of results) {
        assert.strictEqual(result, "fetched here")
        assert.isTrue(elapsed >= maxWait - 50, `TTL ${ttl}: gave up after ${elapsed} ms`)
        // Waits of 25, 50, 100, 200, 400, then 500 ms: about 8 EVALs in 1.5 s (at a constant 25 ms: about 50).
        assert.isAtMost(polls, pollBound(elapsed, 25, 500), `TTL ${ttl}: ${polls} EVALs in ${elapsed} ms`)
      }
    }))
})
