/**
 * The testkit's `FakeAuthServer` (socket mode) in a worker thread, for the server calibration: posts
 * its resource URL and a token it issued, then serves until terminated.
 *
 * @internal
 */
import { FakeAuthServer } from "@oauth-cc/testkit"
import { parentPort } from "node:worker_threads"

const server = await FakeAuthServer.start({ tokenTtl: "1 hour" })
const basic = Buffer.from(`${FakeAuthServer.defaultClient.id}:${FakeAuthServer.defaultClient.secret}`).toString(
  "base64"
)
const response = await fetch(server.tokenUrl, {
  method: "POST",
  headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
  body: "grant_type=client_credentials"
})
const body = (await response.json()) as { access_token: string }
parentPort!.postMessage({ resourceUrl: server.resourceUrl, token: body.access_token })
