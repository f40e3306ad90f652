/**
 * A plain script: settings from the environment, one authorized GET, JSON printed.
 *
 *   OAUTH_TOKEN_URL=… OAUTH_CLIENT_ID=… OAUTH_CLIENT_SECRET=… API_BASE_URL=https://api.example.com \
 *     npx tsx examples/users.ts
 */
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { AuthorizedHttpClient } from "@oauth-cc/core"
import { NodeAuthorizedHttpClient } from "@oauth-cc/node-adapter"
import { Config, Effect } from "effect"

const program = Effect.gen(function*() {
  const baseUrl = yield* Config.string("API_BASE_URL")
  const client = yield* AuthorizedHttpClient.AuthorizedHttpClient
  const response = yield* client.get(`${baseUrl}/users`).pipe(Effect.flatMap(HttpClientResponse.filterStatusOk))
  console.log(JSON.stringify(yield* response.json, null, 2))
})

Effect.runPromise(program.pipe(Effect.provide(NodeAuthorizedHttpClient.layerConfig()))).catch((error) => {
  console.error(String(error))
  process.exitCode = 1
})
