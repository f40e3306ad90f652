/**
 * The loopback token server and protected resource every contender talks to, run in a worker thread
 * (see `internal/serverWorker.ts`), and its control from the main thread.
 *
 * @since 0.1.0
 */
import { Worker } from "node:worker_threads"
import { clientId, clientSecret, staticToken } from "./internal/constants.js"
import type { Request, ServerConfig, ServerStats } from "./internal/serverWorker.js"

export type { ServerConfig, ServerStats }
export { clientId, clientSecret, staticToken }

/**
 * @since 0.1.0
 * @category models
 */
export interface BenchServer {
  readonly origin: string
  readonly tokenUrl: string
  readonly resourceUrl: string
  /** New configuration; forgets issued tokens, counters and times. */
  readonly reset: (config: ServerConfig) => Promise<void>
  readonly stats: () => Promise<ServerStats>
  readonly close: () => Promise<void>
}

/**
 * Starts a TypeScript module in a worker thread, through tsx (a worker does not inherit tsx's loader).
 *
 * @since 0.1.0
 * @category constructors
 */
export const startTsWorker = (url: URL, workerData?: unknown): Worker => {
  const api = import.meta.resolve("tsx/esm/api")
  const code = `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(url.href)}, ${
    JSON.stringify(url.href)
  }))`
  return new Worker(code, { eval: true, workerData })
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const start = (): Promise<BenchServer> =>
  new Promise((resolve, reject) => {
    const worker = startTsWorker(new URL("./internal/serverWorker.ts", import.meta.url))
    const pending = new Map<number, (result: any) => void>()
    let nextId = 0
    const call = <A>(
      request: Request extends infer R ? R extends Request ? Omit<R, "id"> : never : never
    ): Promise<A> =>
      new Promise((done) => {
        const id = nextId++
        pending.set(id, done)
        worker.postMessage({ ...request, id })
      })
    worker.once("error", reject)
    worker.on("message", (message: { ready?: number; id?: number; result?: unknown }) => {
      if (message.ready !== undefined) {
        const origin = `http://127.0.0.1:${message.ready}`
        let closed: Promise<void> | undefined
        resolve({
          origin,
          tokenUrl: `${origin}/token`,
          resourceUrl: `${origin}/resource`,
          reset: (config) => call({ op: "reset", config }),
          stats: () => call({ op: "stats" }),
          close: () =>
            closed ??= call<void>({ op: "close" }).then(async () => {
              await worker.terminate()
            })
        })
        return
      }
      const done = pending.get(message.id!)
      pending.delete(message.id!)
      done?.(message.result)
    })
  })
