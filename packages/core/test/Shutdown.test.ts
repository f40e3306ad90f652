/**
 * Nothing hangs after shutdown: a provider whose scope has closed answers `get`, `getFor` and `refresh`
 * at once (interrupted, like a shut-down queue), and callers waiting on a fetch when the scope closes
 * are released.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as TokenProvider from "../src/TokenProvider.js"
import { baseOptions, fakeClient, tokenBody } from "./utils.js"

describe("after shutdown", () => {
  it.effect("get, getFor and refresh on a provider whose scope has closed end at once, with no request", () =>
    Effect.gen(function*() {
      const fake = fakeClient((_, n) => ({ body: tokenBody(n) }))
      const scope = yield* Scope.make()
      const provider = yield* TokenProvider.make(baseOptions).pipe(
        Effect.provideService(HttpClient.HttpClient, fake.client),
        Scope.extend(scope)
      )
      yield* Scope.close(scope, Exit.void)
      for (const call of [provider.get, provider.getFor({ scope: "other" }), provider.refresh]) {
        const fiber = yield* Effect.fork(call)
        yield* TestClock.adjust("1 minute")
        const exit = yield* Fiber.poll(fiber)
        assert.isTrue(exit._tag === "Some", "ended")
        if (exit._tag === "Some") assert.isTrue(Exit.isFailure(exit.value))
        yield* Fiber.interrupt(fiber)
      }
      assert.strictEqual(fake.seen.length, 0)
    }))

  it.effect("callers waiting on a fetch when the scope closes are released", () =>
    Effect.gen(function*() {
      const fake = fakeClient(() => Effect.never)
      const scope = yield* Scope.make()
      const provider = yield* TokenProvider.make(baseOptions).pipe(
        Effect.provideService(HttpClient.HttpClient, fake.client),
        Scope.extend(scope)
      )
      const fiber = yield* Effect.fork(provider.get)
      yield* TestClock.adjust("1 millis")
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.poll(fiber)
      assert.isTrue(exit._tag === "Some" && Exit.isFailure(exit.value))
      yield* Fiber.interrupt(fiber)
    }))
})
