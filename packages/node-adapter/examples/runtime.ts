/**
 * Many calls from plain async code: one `ManagedRuntime` holds the token cache and the connection
 * pool, so the calls share one token. Dispose it at the end to close the connections.
 *
 *   OAUTH_TOKEN_URL=… OAUTH_CLIENT_ID=… OAUTH_CLIENT_SECRET=… API_BASE_URL=… npx tsx examples/runtime.ts
 */
import { AuthorizedHttpClient } from "@oauth-cc/core"
import { NodeAuthorizedHttpClient } from "@oauth-cc/node-adapter"
import { Effect, ManagedRuntime } from "effect"

const runtime = ManagedRuntime.make(NodeAuthorizedHttpClient.layerConfig())

const getJson = (url: string) =>
  runtime.runPromise(Effect.gen(function*() {
    const client = yield* AuthorizedHttpClient.AuthorizedHttpClient
    const response = yield* client.get(url)
    return yield* response.json
  }))

const baseUrl = process.env.API_BASE_URL ?? "http://127.0.0.1:8080"
try {
  for (const id of [1, 2, 3]) {
    console.log(JSON.stringify(await getJson(`${baseUrl}/users/${id}`)))
  }
} catch (error) {
  console.error(String(error))
  process.exitCode = 1
} finally {
  await runtime.dispose()
}
