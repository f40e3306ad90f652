import { FakeAuthServer } from "@oauth-cc/testkit"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { type RedisServer, startRedisServer } from "./fixtures/redisServer.js"

/** A throwaway redis-server for the test's scope. */
export const redisServer: Effect.Effect<RedisServer, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(startRedisServer),
  (server) => Effect.promise(server.stop)
)

/** `@oauth-cc/testkit`'s fake authorization server on a loopback socket, closed with the scope. */
export const authServer = (
  options: FakeAuthServer.Options = {}
): Effect.Effect<FakeAuthServer.Handle, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => FakeAuthServer.start(options)), (server) => Effect.promise(server.close))

/** The values of the tokens a server issued (for "not in Redis" checks). */
export const issuedValues = (server: FakeAuthServer.Handle) =>
  Effect.promise(async () => (await server.issued()).map((t) => Redacted.value(t.value)))

/** Marks the tokens tests make themselves. */
export const canaryMarker = "CANARY"

export const encryptionKey = Redacted.make("test-encryption-key-0123456789abcdef")

let prefixes = 0
/** A key prefix of its own for each test, so tests sharing a server never see each other's keys. */
export const freshPrefix = () => `t${process.pid}-${++prefixes}:`

/** Every key and value in Redis, through redis-cli (`--scan`, then `GET`). */
export const dump = (server: RedisServer) =>
  Effect.promise(async () => {
    const keys = (await server.cli("--scan")).split("\n").filter((k) => k !== "")
    const entries: Array<readonly [string, string]> = []
    for (const key of keys) entries.push([key, (await server.cli("GET", key)).trim()])
    return entries
  })

/** Calls of a Redis command so far (`INFO commandstats`). */
export const commandCalls = (server: RedisServer, command: string) =>
  Effect.promise(async () => {
    const info = await server.cli("INFO", "commandstats")
    const match = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)
    return match === null ? 0 : Number(match[1])
  })
