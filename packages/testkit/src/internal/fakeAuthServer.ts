import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type * as FakeAuthServer from "../FakeAuthServer.js"
import * as Handler from "./handler.js"
import { makeClient } from "./inProcess.js"
import { listen, serve } from "./nodeServer.js"

/** @internal */
export const defaultClient = Handler.defaultClient

/** @internal */
export const inProcessHost = "fake-auth-server.localhost"

const serviceOf = (state: Handler.ServerState, host: string, clock?: Clock.Clock): FakeAuthServer.Service => {
  const sync = <A>(f: () => A): Effect.Effect<A> => Effect.sync(f)
  const waitFor = (condition: () => boolean): Effect.Effect<void> =>
    Effect.async<void>((resume) => {
      const cancel = state.waitFor(condition, () => resume(Effect.void))
      return Effect.sync(cancel)
    })
  return {
    ...state.urls,
    clients: state.clients.map(({ authMethods, basicEncoding, id, scopes, secret }) => ({
      id,
      secret,
      scopes,
      authMethods,
      basicEncoding
    })),
    httpClient: makeClient(state, host, clock),
    enqueue: (...responses) => sync(() => void state.queue.push(...responses)),
    always: (response) => sync(() => void (state.alwaysResponse = response)),
    reset: sync(() => {
      state.queue = []
      state.alwaysResponse = undefined
    }),
    requests: sync(() => state.journal.slice()),
    tokenRequests: sync(() => state.journal.filter((r) => r.endpoint === "token")),
    clearRequests: sync(() => state.clearRequests()),
    tokenRequestCount: sync(() => state.tokenRequestCount),
    resourceRequestCount: sync(() => state.resourceRequestCount),
    unauthenticatedResourceRequests: sync(() => state.unauthenticatedResourceRequests),
    resource401Count: sync(() => state.resource401Count),
    tokenRequestsInFlight: sync(() => state.inFlight),
    maxTokenRequestsInFlight: sync(() => state.maxInFlight),
    awaitTokenRequests: (n) => waitFor(() => state.tokenRequestCount >= n),
    awaitTokenRequestsInFlight: (n) => waitFor(() => state.inFlight >= n),
    issued: sync(() => state.issuedTokens()),
    revoke: (token) => sync(() => state.revoke(token)),
    expireAll: sync(() => state.expireAll()),
    setDPoPNonce: (nonce) => sync(() => void (state.dpopNonce = nonce))
  }
}

/** @internal */
export const make = (options: FakeAuthServer.Options = {}): Effect.Effect<FakeAuthServer.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const key = yield* Handler.makeSigningKey
    const { port, server } = yield* listen(options.port ?? 0)
    const host = `127.0.0.1:${port}`
    const state = new Handler.ServerState(Handler.urlsOf(`http://${host}`), options, key)
    const clock = Clock.make()
    yield* serve(server, state, clock)
    return serviceOf(state, host, clock)
  })

/** @internal */
export const makeInProcess = (options: FakeAuthServer.Options = {}): Effect.Effect<FakeAuthServer.Service> =>
  Effect.map(Handler.makeSigningKey, (key) => {
    const state = new Handler.ServerState(Handler.urlsOf(`https://${inProcessHost}`), options, key)
    return serviceOf(state, inProcessHost)
  })

/** @internal */
export const start = async (options: FakeAuthServer.Options = {}): Promise<FakeAuthServer.Handle> => {
  const scope = Effect.runSync(Scope.make())
  const service = await Effect.runPromise(Scope.extend(make(options), scope)).catch(async (error) => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw error
  })
  const run = <A>(effect: Effect.Effect<A>): Promise<A> => Effect.runPromise(effect)
  let closing: Promise<void> | undefined
  return {
    issuer: service.issuer,
    tokenUrl: service.tokenUrl,
    jwksUri: service.jwksUri,
    resourceUrl: service.resourceUrl,
    metadataUrl: service.metadataUrl,
    port: Number(new URL(service.issuer).port),
    clients: service.clients,
    service,
    enqueue: (...responses) => run(service.enqueue(...responses)),
    always: (response) => run(service.always(response)),
    reset: () => run(service.reset),
    requests: () => run(service.requests),
    tokenRequests: () => run(service.tokenRequests),
    clearRequests: () => run(service.clearRequests),
    tokenRequestCount: () => run(service.tokenRequestCount),
    resourceRequestCount: () => run(service.resourceRequestCount),
    unauthenticatedResourceRequests: () => run(service.unauthenticatedResourceRequests),
    resource401Count: () => run(service.resource401Count),
    tokenRequestsInFlight: () => run(service.tokenRequestsInFlight),
    maxTokenRequestsInFlight: () => run(service.maxTokenRequestsInFlight),
    awaitTokenRequests: (n) => run(service.awaitTokenRequests(n)),
    awaitTokenRequestsInFlight: (n) => run(service.awaitTokenRequestsInFlight(n)),
    issued: () => run(service.issued),
    revoke: (token) => run(service.revoke(token)),
    expireAll: () => run(service.expireAll),
    setDPoPNonce: (nonce) => run(service.setDPoPNonce(nonce)),
    close: () => closing ??= run(Scope.close(scope, Exit.void))
  }
}
