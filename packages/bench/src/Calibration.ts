/**
 * Which server the scenarios use: the testkit's `FakeAuthServer` over sockets, or the bench's plain
 * `node:http` server. Both run in a worker thread; the static-header undici client measures how many
 * authorized resource requests per second each can answer.
 *
 * @since 0.1.0
 */
import * as Undici from "undici"
import { type BenchServer, startTsWorker, staticToken } from "./BenchServer.js"

const rate = async (url: string, token: string, callers: number, millis: number): Promise<number> => {
  const agent = new Undici.Agent({ connections: 64 })
  const end = performance.now() + millis
  let n = 0
  const start = performance.now()
  await Promise.all(Array.from({ length: callers }, async () => {
    while (performance.now() < end) {
      const response = await Undici.request(url, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } })
      await response.body.text()
      if (response.statusCode !== 200) throw new Error(`calibration: resource answered ${response.statusCode}`)
      n++
    }
  }))
  const rps = n / ((performance.now() - start) / 1000)
  await agent.close()
  return rps
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Calibration {
  readonly plainRps: number
  readonly testkitRps: number
}

/**
 * Alternates the two servers `rounds` times.
 *
 * @since 0.1.0
 * @category calibration
 */
export const calibrate = async (server: BenchServer, millis: number, rounds: number): Promise<Calibration> => {
  const worker = startTsWorker(new URL("./internal/testkitWorker.ts", import.meta.url))
  const testkit = await new Promise<{ resourceUrl: string; token: string }>((resolve, reject) => {
    worker.once("message", resolve)
    worker.once("error", reject)
  })
  await server.reset({ ttlSeconds: 3_600, tokenDelayMillis: 0 })
  const plain: Array<number> = []
  const fake: Array<number> = []
  try {
    for (let i = 0; i < rounds; i++) {
      plain.push(await rate(server.resourceUrl, staticToken, 64, millis))
      fake.push(await rate(testkit.resourceUrl, testkit.token, 64, millis))
    }
  } finally {
    await worker.terminate()
  }
  const sum = (xs: Array<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
  return { plainRps: sum(plain), testkitRps: sum(fake) }
}
