/**
 * Token lifetimes on a monotonic clock: the wall clock (`currentTimeMillis`) steps an hour back or forth
 * while the monotonic one (`currentTimeNanos`) runs on. A step back must not make an expired token
 * served again; a step forward must not cut a valid one. `TestClock` drives both time lines; the test's
 * `Clock` adds the step to the wall one only.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as AccessToken from "../src/AccessToken.js"
import * as TokenProvider from "../src/TokenProvider.js"
import { baseOptions, fakeClient, tokenBody } from "./utils.js"

/** A Clock over the TestClock whose wall time is off by `step.millis`. */
const steppedClock = (base: Clock.Clock, step: { millis: number }): Clock.Clock => ({
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis() + step.millis,
  currentTimeMillis: Effect.sync(() => base.unsafeCurrentTimeMillis() + step.millis),
  unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos(),
  currentTimeNanos: Effect.sync(() => base.unsafeCurrentTimeNanos()),
  sleep: (duration) => base.sleep(duration)
})

const hour = 3_600_000

describe("wall clock steps", () => {
  for (
    const [name, stepMillis, afterMillis, expected] of [
      ["back an hour after the token expired: a new token, never the expired one", -hour, 120_000, "tok-2"],
      ["forward an hour while the token is valid: the same token", hour, 10_000, "tok-1"]
    ] as const
  ) {
    it.scoped(name, () =>
      Effect.gen(function*() {
        const step = { millis: 0 }
        const clock = steppedClock(yield* Effect.clock, step)
        const fake = fakeClient((_, n) => ({ body: tokenBody(n, { expires_in: 60 }) }))
        const provider = yield* TokenProvider.make({ ...baseOptions, refreshAhead: 1 }).pipe(
          Effect.provideService(HttpClient.HttpClient, fake.client)
        )
        const get = Effect.withClock(provider.get, clock)
        assert.strictEqual(Redacted.value((yield* get).value), "tok-1")
        yield* TestClock.adjust(afterMillis)
        step.millis = stepMillis
        const token = yield* get
        assert.strictEqual(Redacted.value(token.value), expected)
        assert.strictEqual(fake.seen.length, expected === "tok-1" ? 1 : 2)
        assert.isFalse(yield* Effect.withClock(AccessToken.isExpired(token), clock))
      }))
  }
})
