import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

/**
 * Milliseconds on the `Clock`'s monotonic time line (`currentTimeNanos`: with the default clock, the wall
 * time when the process first read it plus the elapsed `process.hrtime`), so a step of the wall clock
 * neither stretches nor cuts a token's life. `TestClock` drives it like `currentTimeMillis`.
 *
 * @internal
 */
export const unsafeMillis = (clock: Clock.Clock): number => Math.floor(Number(clock.unsafeCurrentTimeNanos()) / 1e6)

/** @internal */
export const millis: Effect.Effect<number> = Effect.clockWith((clock) => Effect.sync(() => unsafeMillis(clock)))
