/**
 * P7: N processes with and without the shared Redis store → token requests per window, and the warm
 * `get` latency. Runs the fleet harness the Redis package keeps beside its tests
 * (`packages/redis/test/fixtures/fleet.ts` `runFleet`): worker processes (bundled once with esbuild),
 * one loopback token server, one throwaway `redis-server`.
 *
 * @since 0.1.0
 */
import * as Fs from "node:fs"

/**
 * @since 0.1.0
 * @category models
 */
export interface P7Run {
  readonly store: boolean
  readonly processes: number
  readonly requests: number
  readonly requestsPerWindow: ReadonlyArray<number>
  readonly failures: number
  readonly gets: number
  readonly warmLatencyMicros: { readonly p50: number; readonly p99: number; readonly max: number }
}

/**
 * Why P7 cannot run here, or undefined when it can.
 *
 * @since 0.1.0
 * @category scenarios
 */
export const unavailable = async (): Promise<string | undefined> => {
  const path = process.env.REDIS_SERVER ?? "/usr/bin/redis-server"
  if (!Fs.existsSync(path)) return `P7 skipped: ${path} not found (install redis-server or set REDIS_SERVER)`
  try {
    await import("../../redis/test/fixtures/fleet.js")
  } catch (error) {
    return `P7 skipped: the fleet harness of @oauth-cc/redis did not load (${String(error).slice(0, 200)})`
  }
  return undefined
}

/**
 * One run: the fleet without the store, then with it.
 *
 * @since 0.1.0
 * @category scenarios
 */
export const p7 = async (processes: number, windows: number): Promise<ReadonlyArray<P7Run>> => {
  const { runFleet } = await import("../../redis/test/fixtures/fleet.js")
  const results: Array<P7Run> = []
  for (const store of [false, true]) {
    results.push(await runFleet({ processes, store, windows }))
  }
  return results
}
