import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import type * as Net from "node:net"

/** The canary secret: no error message, log line or span may ever contain it. */
export const canarySecret = "s3cr3t-CANARY-f00d"

export const baseOptions = {
  tokenUrl: "https://auth.example.test/oauth/token",
  clientId: "client-1",
  clientSecret: Redacted.make(canarySecret)
} as const

export interface Reply {
  readonly status?: number
  readonly headers?: Record<string, string>
  readonly body?: string | object
}

export interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/**
 * A fake token endpoint as an `HttpClient` (no sockets): answers each request with `respond`, which
 * may be an Effect (to delay with the Clock, or to never answer).
 */
export const fakeClient = (
  respond: (request: Seen, n: number) => Reply | Effect.Effect<Reply>
): { readonly client: HttpClient.HttpClient; readonly seen: Array<Seen> } => {
  const seen: Array<Seen> = []
  const client = HttpClient.make((request: HttpClientRequest.HttpClientRequest, url) => {
    const body = request.body._tag === "Uint8Array" ? new TextDecoder().decode(request.body.body) : ""
    const entry: Seen = { method: request.method, url: url.toString(), headers: request.headers, body }
    seen.push(entry)
    const reply = respond(entry, seen.length)
    return Effect.map(Effect.isEffect(reply) ? reply : Effect.succeed(reply), (r) => {
      const text = r.body === undefined ? "" : typeof r.body === "string" ? r.body : JSON.stringify(r.body)
      const headers = { "content-type": "application/json", ...r.headers }
      return HttpClientResponse.fromWeb(request, new Response(text, { status: r.status ?? 200, headers }))
    })
  })
  return { client, seen }
}

export const tokenBody = (n: number, extra: object = {}) => ({
  access_token: `tok-${n}`,
  token_type: "Bearer",
  expires_in: 3600,
  ...extra
})

/**
 * A `node:http` server on 127.0.0.1 written by the test (the attacker's side), closed with the scope.
 * `url` is its origin, `requests` every request it got (method, path, headers).
 */
export const httpServer = (
  handler: (request: Http.IncomingMessage, response: Http.ServerResponse) => void
): Effect.Effect<
  {
    readonly url: string
    readonly requests: Array<
      { readonly method: string; readonly path: string; readonly headers: Http.IncomingHttpHeaders }
    >
  },
  never,
  Scope.Scope
> =>
  Effect.acquireRelease(
    Effect.async<{ server: Http.Server; url: string; requests: Array<any> }>((resume) => {
      const requests: Array<any> = []
      const server = Http.createServer((request, response) => {
        requests.push({ method: request.method ?? "", path: request.url ?? "", headers: request.headers })
        handler(request, response)
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as Net.AddressInfo
        resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}`, requests }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** Answers with JSON. */
export const sendJson = (response: Http.ServerResponse, status: number, body: string, headers = {}) => {
  response.writeHead(status, { "content-type": "application/json", ...headers })
  response.end(body)
}
