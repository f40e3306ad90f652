/**
 * A virtual `Clock` for long or many-run simulations: time only moves when the driver says so, like
 * `TestClock`, but a wake-up costs one `setImmediate` instead of `TestClock`'s two `setTimeout(0)`
 * suspension checks. `TestClock` needs ~5 ms of real time per scheduled wake-up: 24 virtual hours of
 * callers ticking every second (260,000 wake-ups) would take 20 minutes, and 10,000 fuzz runs with
 * retries several minutes. With this clock both take seconds. Semantics are the same: a sleep ends
 * exactly at its instant, in order, and nothing happens between instants unless the driver advances.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

interface Sleeper {
  readonly at: number
  readonly seq: number
  readonly wake: () => void
}

export interface VirtualClock {
  readonly clock: Clock.Clock
  /** The virtual time, epoch millis. */
  readonly now: () => number
  /** Sleeps not yet woken. */
  readonly pending: () => number
  /** Lets every fiber that can run, run (drains microtasks and the Effect scheduler). */
  readonly settle: Effect.Effect<void>
  /** Moves time forward by `millis`, waking every sleep due on the way in order, settling after each. */
  readonly adjust: (millis: number) => Effect.Effect<void>
  /**
   * Wakes sleeps in order until `done()` holds or the next wake-up lies beyond `budget` millis from
   * now. True when `done()` held: false means the work still waits after the whole budget (a hang).
   */
  readonly runUntil: (done: () => boolean, budget: number) => Effect.Effect<boolean>
}

const immediate = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

export const make = (start = Date.UTC(2025, 0, 1)): VirtualClock => {
  let now = start
  let seq = 0
  let sleepers: Array<Sleeper> = []

  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    currentTimeMillis: Effect.sync(() => now),
    unsafeCurrentTimeNanos: () => BigInt(Math.round(now * 1000)) * 1000n,
    currentTimeNanos: Effect.sync(() => BigInt(Math.round(now * 1000)) * 1000n),
    sleep: (duration) =>
      Effect.async<void>((resume) => {
        const millis = Duration.toMillis(duration)
        if (!(millis > 0)) {
          resume(Effect.void)
          return
        }
        const sleeper: Sleeper = { at: now + millis, seq: seq++, wake: () => resume(Effect.void) }
        sleepers.push(sleeper)
        return Effect.sync(() => {
          sleepers = sleepers.filter((s) => s !== sleeper)
        })
      })
  }

  const settle = immediate

  /** Removes and returns the earliest sleep due at or before `limit`. */
  const takeDue = (limit: number): Sleeper | undefined => {
    let best: Sleeper | undefined
    for (const s of sleepers) {
      if (s.at <= limit && (best === undefined || s.at < best.at || (s.at === best.at && s.seq < best.seq))) best = s
    }
    if (best !== undefined) sleepers = sleepers.filter((s) => s !== best)
    return best
  }

  const wakeAllAt = (first: Sleeper) => {
    now = Math.max(now, first.at)
    first.wake()
    // everything due at the same instant wakes together
    for (let next = takeDue(now); next !== undefined; next = takeDue(now)) next.wake()
  }

  const adjust = (millis: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      const end = now + millis
      const loop: Effect.Effect<void> = Effect.suspend(() => {
        const next = takeDue(end)
        if (next === undefined) {
          now = end
          return Effect.void
        }
        wakeAllAt(next)
        return Effect.zipRight(settle, loop)
      })
      return Effect.zipRight(settle, loop)
    })

  const runUntil = (done: () => boolean, budget: number): Effect.Effect<boolean> =>
    Effect.suspend(() => {
      const end = now + budget
      const loop: Effect.Effect<boolean> = Effect.suspend(() => {
        if (done()) return Effect.succeed(true)
        const next = takeDue(end)
        if (next === undefined) {
          // maybe real async work (crypto, streams) is still under way: give it a few turns
          return Effect.flatMap(Effect.zipRight(settle, settle), () => {
            if (done() || sleepers.some((s) => s.at <= end)) return loop
            now = end
            return Effect.succeed(done())
          })
        }
        wakeAllAt(next)
        return Effect.zipRight(settle, loop)
      })
      return Effect.zipRight(settle, loop)
    })

  return { clock, now: () => now, pending: () => sleepers.length, settle, adjust, runUntil }
}
