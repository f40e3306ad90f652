import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import type * as Net from "node:net"
import { garbageBytes, type IncomingRequest, type Outcome, partialBody, type ServerState } from "./handler.js"

/**
 * Listens on `127.0.0.1:port`. When the scope closes: handler fibers are interrupted, every open
 * connection is destroyed and the server is closed.
 *
 * @internal
 */
export const listen = (
  port: number
): Effect.Effect<{ readonly server: Http.Server; readonly port: number }, never, Scope.Scope> => {
  const sockets = new Set<Net.Socket>()
  return Effect.acquireRelease(
    Effect.async<Http.Server>((resume) => {
      const server = Http.createServer({ keepAliveTimeout: 1000 })
      server.on("connection", (socket) => {
        sockets.add(socket)
        socket.once("close", () => sockets.delete(socket))
      })
      const onError = (error: Error) => resume(Effect.die(error))
      server.once("error", onError)
      server.listen(port, "127.0.0.1", () => {
        server.off("error", onError)
        server.on("error", () => {})
        resume(Effect.succeed(server))
      })
    }),
    (server) =>
      Effect.async<void>((resume) => {
        const closed = Array.from(sockets, (socket) => new Promise<void>((done) => socket.once("close", () => done())))
        closed.push(new Promise<void>((done) => server.close(() => done())))
        server.closeAllConnections()
        for (const socket of sockets) socket.destroy()
        // libuv releases closed handles in the "close callbacks" phase: resume after it
        void Promise.all(closed).then(() => setImmediate(() => setImmediate(() => resume(Effect.void))))
      })
  ).pipe(Effect.map((server) => ({ server, port: (server.address() as Net.AddressInfo).port })))
}

const headersOf = (request: Http.IncomingMessage): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return headers
}

const write = (outcome: Outcome, request: Http.IncomingMessage, response: Http.ServerResponse): void => {
  const socket = request.socket
  if (outcome._tag === "Respond") {
    try {
      response.writeHead(outcome.status, outcome.headers)
      response.end(outcome.body)
    } catch {
      socket.destroy()
    }
    return
  }
  switch (outcome.fault) {
    case "hang":
      return
    case "resetConnection":
      socket.resetAndDestroy()
      return
    case "closeWithoutResponse":
      socket.destroySoon()
      return
    case "garbage":
      socket.end(Buffer.from(garbageBytes, "latin1"))
      return
    case "partialBody": {
      response.writeHead(partialBody.status, partialBody.headers)
      response.write(partialBody.sent, () => socket.destroy())
      return
    }
  }
}

/**
 * Serves the state's handler on the server. Handler fibers run in the scope with `clock` (the wall
 * clock, whatever clock the caller of `make` had); a fiber is interrupted when its client goes away.
 *
 * @internal
 */
export const serve = (
  server: Http.Server,
  state: ServerState,
  clock: Clock.Clock
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const runFork = yield* FiberSet.makeRuntime<never, void, never>()
    server.on("request", (request: Http.IncomingMessage, response: Http.ServerResponse) => {
      const chunks: Array<Buffer> = []
      let size = 0
      let tooLarge = false
      request.on("data", (chunk: Buffer) => {
        size += chunk.length
        if (size > state.maxBodyBytes) {
          // keep draining so that the client can read the answer, but keep nothing
          tooLarge = true
          chunks.length = 0
        } else {
          chunks.push(chunk)
        }
      })
      request.on("error", () => {})
      request.on("end", () => {
        const incoming: IncomingRequest = {
          method: request.method ?? "GET",
          path: request.url ?? "/",
          headers: headersOf(request),
          body: tooLarge || size === 0 ? undefined : Buffer.concat(chunks),
          bodyTooLarge: tooLarge
        }
        const fiber = runFork(
          state.handle(incoming).pipe(
            Effect.withClock(clock),
            Effect.flatMap((outcome) => Effect.sync(() => write(outcome, request, response)))
          )
        )
        response.on("close", () => {
          if (!response.writableFinished) fiber.unsafeInterruptAsFork(FiberId.none)
        })
      })
    })
  })
