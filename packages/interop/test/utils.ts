import * as HttpClient from "@effect/platform/HttpClient"
import type * as ClientCredentials from "@oauth-cc/core/ClientCredentials"
import * as TokenProvider from "@oauth-cc/core/TokenProvider"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { afterAll, afterEach } from "vitest"
import type { Journal } from "../src/faults.js"

/** The options of a test: the token URL is the server's unless an issuer is given. */
export type TestOptions = Omit<ClientCredentials.Options, "tokenUrl" | "issuer"> & { readonly issuer?: string }

/**
 * A provider against `server` (over the `HttpClient` in the context), and the figures the server itself
 * counted while `use` ran.
 */
export const against = <A, E>(
  server: Journal & { readonly tokenUrl: string },
  options: TestOptions,
  use: (provider: TokenProvider.Service, client: HttpClient.HttpClient) => Effect.Effect<A, E>
): Effect.Effect<{ result: A; grants: number; requests: number }, E, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const provider = yield* TokenProvider.make({
      ...(options.issuer === undefined ? { tokenUrl: server.tokenUrl } : {}),
      ...options
    }).pipe(Effect.provideService(HttpClient.HttpClient, client))
    const [grants, requests] = [server.grants(), server.tokenRequests()]
    const result = yield* use(provider, client)
    return { result, grants: server.grants() - grants, requests: server.tokenRequests() - requests }
  })

/** Prints one line at the end of the file: how many cases passed against `server`. */
export const summary = (server: string) => {
  let cases = 0
  afterEach((context) => void (context.task.result?.errors?.length ? undefined : cases++))
  afterAll(() => console.log(`interop: ${cases} cases passed against ${server}`))
}
