/**
 * The benchmark's token server and protected resource: a plain `node:http` server in a worker thread,
 * so that its work does not run on the event loop of the contenders it serves.
 *
 * - `POST /token`: client credentials grant; checks the client (HTTP Basic, form-urlencoded per RFC 6749
 *   §2.3.1, or `client_secret_post`); answers after `tokenDelayMillis` with an opaque token of `ttlSeconds`;
 *   beyond `rateLimit.requests` per `rateLimit.perMillis` (a fixed window) it answers 429 with `Retry-After`.
 * - `GET /resource`: 200 for a bearer token it issued that has not expired (or the static token), else 401.
 *
 * Counters and the arrival times of token requests are read over the worker's message port.
 *
 * @internal
 */
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import type * as Net from "node:net"
import { parentPort } from "node:worker_threads"
import { clientId, clientSecret, staticToken } from "./constants.js"

/** @internal */
export interface ServerConfig {
  readonly ttlSeconds: number
  readonly tokenDelayMillis: number
  readonly rateLimit?: { readonly requests: number; readonly perMillis: number; readonly retryAfterSeconds: number }
}

/** @internal */
export interface ServerStats {
  readonly tokenRequests: number
  readonly tokenIssued: number
  readonly token429: number
  readonly token401: number
  readonly maxTokenInFlight: number
  readonly resource200: number
  readonly resource401: number
  /** Arrival times (ms since the last reset) of the token requests. */
  readonly tokenTimes: ReadonlyArray<number>
  /** Arrival times (ms since the last reset) of the token requests answered with 429. */
  readonly rejectedTimes: ReadonlyArray<number>
}

/** @internal */
export type Request =
  | { readonly id: number; readonly op: "reset"; readonly config: ServerConfig }
  | { readonly id: number; readonly op: "stats" }
  | { readonly id: number; readonly op: "close" }

const formEncode = (value: string): string => new URLSearchParams([["", value]]).toString().slice(1)
const expectedBasic = `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString("base64")}`

const noStore = { "cache-control": "no-store", "content-type": "application/json" }

let config: ServerConfig = { ttlSeconds: 2, tokenDelayMillis: 0 }
let epoch = performance.now()
let tokens = new Map<string, number>()
const freshCounters = () => ({
  tokenRequests: 0,
  tokenIssued: 0,
  token429: 0,
  token401: 0,
  maxTokenInFlight: 0,
  resource200: 0,
  resource401: 0
})
let counters = freshCounters()
let tokenTimes: Array<number> = []
let rejectedTimes: Array<number> = []
let inFlight = 0
let windowStart = 0
let windowCount = 0

const reset = (next: ServerConfig) => {
  config = next
  epoch = performance.now()
  tokens = new Map()
  counters = freshCounters()
  tokenTimes = []
  rejectedTimes = []
  windowStart = 0
  windowCount = 0
}

const authenticated = (headers: Http.IncomingHttpHeaders, form: URLSearchParams): boolean => {
  if (headers.authorization !== undefined) return headers.authorization === expectedBasic
  return form.get("client_id") === clientId && form.get("client_secret") === clientSecret
}

const pruneTokens = (now: number) => {
  if (tokens.size < 50_000) return
  for (const [token, expiresAt] of tokens) if (expiresAt <= now) tokens.delete(token)
}

const onToken = (request: Http.IncomingMessage, response: Http.ServerResponse, body: string) => {
  const at = performance.now() - epoch
  counters.tokenRequests++
  tokenTimes.push(at)
  const form = new URLSearchParams(body)
  if (form.get("grant_type") !== "client_credentials" || !authenticated(request.headers, form)) {
    counters.token401++
    response.writeHead(401, { ...noStore, "www-authenticate": "Basic realm=\"bench\"" })
    response.end(JSON.stringify({ error: "invalid_client" }))
    return
  }
  const limit = config.rateLimit
  if (limit !== undefined) {
    if (at - windowStart >= limit.perMillis) {
      windowStart = at
      windowCount = 0
    }
    if (windowCount >= limit.requests) {
      counters.token429++
      rejectedTimes.push(at)
      response.writeHead(429, { ...noStore, "retry-after": String(limit.retryAfterSeconds) })
      response.end(JSON.stringify({ error: "slow_down", error_description: "rate limited" }))
      return
    }
    windowCount++
  }
  inFlight++
  counters.maxTokenInFlight = Math.max(counters.maxTokenInFlight, inFlight)
  const answer = () => {
    inFlight--
    const token = Crypto.randomBytes(16).toString("base64url")
    const now = Date.now()
    pruneTokens(now)
    tokens.set(token, now + config.ttlSeconds * 1000)
    counters.tokenIssued++
    response.writeHead(200, noStore)
    // a request with a DPoP proof gets a DPoP token; proofs are not verified here: P4 with DPoP measures the
    // client's cost (a signature per request), which a verifying server would blur on a shared machine
    const tokenType = request.headers["dpop"] === undefined ? "Bearer" : "DPoP"
    response.end(JSON.stringify({ access_token: token, token_type: tokenType, expires_in: config.ttlSeconds }))
  }
  if (config.tokenDelayMillis > 0) setTimeout(answer, config.tokenDelayMillis)
  else answer()
}

const resourceBody = JSON.stringify({ ok: true })

const onResource = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
  const authorization = request.headers.authorization
  const token = authorization?.startsWith("Bearer ")
    ? authorization.slice(7)
    : authorization?.startsWith("DPoP ") && request.headers["dpop"] !== undefined
    ? authorization.slice(5)
    : undefined
  const expiresAt = token === undefined ? undefined : token === staticToken ? Infinity : tokens.get(token)
  if (expiresAt === undefined || expiresAt <= Date.now()) {
    counters.resource401++
    response.writeHead(401, {
      "www-authenticate": "Bearer error=\"invalid_token\"",
      "content-type": "application/json"
    })
    response.end("{}")
    return
  }
  counters.resource200++
  response.writeHead(200, { "content-type": "application/json" })
  response.end(resourceBody)
}

const server = Http.createServer({ keepAliveTimeout: 10_000 }, (request, response) => {
  if (request.method === "GET" && request.url?.startsWith("/resource")) {
    request.resume()
    onResource(request, response)
    return
  }
  if (request.method === "POST" && request.url === "/token") {
    const chunks: Array<Buffer> = []
    let size = 0
    request.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size <= 65_536) chunks.push(chunk)
    })
    request.on("end", () => onToken(request, response, Buffer.concat(chunks).toString("utf8")))
    return
  }
  request.resume()
  response.writeHead(404)
  response.end()
})
server.maxConnections = 50_000
// a stampede opens thousands of sockets at once
server.listen({ port: 0, host: "127.0.0.1", backlog: 16_384 }, () => {
  parentPort!.postMessage({ ready: (server.address() as Net.AddressInfo).port })
})

parentPort!.on("message", (message: Request) => {
  switch (message.op) {
    case "reset": {
      reset(message.config)
      parentPort!.postMessage({ id: message.id, result: null })
      return
    }
    case "stats": {
      const stats: ServerStats = { ...counters, tokenTimes, rejectedTimes }
      parentPort!.postMessage({ id: message.id, result: stats })
      return
    }
    case "close": {
      server.closeAllConnections()
      server.close(() => parentPort!.postMessage({ id: message.id, result: null }))
      return
    }
  }
})
