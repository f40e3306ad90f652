/**
 * @node-oauth/oauth2-server 5 (no code shared with oidc-provider) behind a small `node:http`
 * wrapper on 127.0.0.1 with an ephemeral port: `/token` (client credentials, HTTP Basic or form
 * body) and `/resource`, a protected resource using the library's own `authenticate()`.
 *
 * Grants are counted in the model's `saveToken` hook; faults are injected by the wrapper in front of
 * `token()`.
 *
 * @since 0.0.0
 */
import OAuth2Server from "@node-oauth/oauth2-server"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { type Journal, makeJournal } from "./faults.js"
import { close } from "./internal.js"

/**
 * @since 0.0.0
 * @category constants
 */
export const clients = {
  basic: { id: "cc-basic", secret: "basic-secret" },
  special: { id: "cc-special", secret: "p@ss:w+rd/%&=" }
} as const

/**
 * @since 0.0.0
 * @category models
 */
export interface NodeOauthServer extends Journal {
  readonly base: string
  readonly tokenUrl: string
  readonly resourceUrl: string
}

const allowed = ["api:read", "api:write"]

const readBody = async (req: IncomingMessage): Promise<string> => {
  let raw = ""
  for await (const chunk of req) raw += chunk
  return raw
}

/**
 * @since 0.0.0
 * @category constructors
 */
export const start: Effect.Effect<NodeOauthServer, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    const { arrived, granted, journal } = makeJournal()
    const known = Object.values(clients).map((c) => ({ ...c, grants: ["client_credentials"] }))
    const tokens = new Map<string, OAuth2Server.Token>()
    const model: OAuth2Server.ClientCredentialsModel = {
      getClient: async (id, secret) => known.find((c) => c.id === id && c.secret === secret) ?? null,
      getUserFromClient: async (client) => ({ id: `client:${client.id}` }),
      saveToken: async (token, client, user) => {
        granted(client.id)
        const saved = { ...token, client, user }
        tokens.set(token.accessToken, saved)
        return saved
      },
      validateScope: async (_user, _client, scope) =>
        scope === undefined || scope.length === 0 ? ["api:read"] : scope.every((s) => allowed.includes(s)) && scope,
      getAccessToken: async (token) => tokens.get(token) ?? null,
      generateAccessToken: async () => randomBytes(24).toString("base64url")
    }
    const oauth = new OAuth2Server({ model, accessTokenLifetime: 300 })
    const server = createServer(async (req, res) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1")
      const raw = await readBody(req)
      if (url.pathname === "/token" && req.method === "POST") {
        const fault = arrived(req.headers.authorization)
        if (fault !== undefined) {
          res.writeHead(fault.status, { "content-type": "application/json", ...fault.headers })
          return res.end(JSON.stringify(fault.body ?? {}))
        }
      }
      const form = req.headers["content-type"]?.startsWith("application/x-www-form-urlencoded")
      const request = new OAuth2Server.Request({
        method: req.method ?? "GET",
        headers: req.headers as Record<string, string>,
        query: Object.fromEntries(url.searchParams),
        body: form ? Object.fromEntries(new URLSearchParams(raw)) : {}
      })
      const response = new OAuth2Server.Response({ headers: {} })
      try {
        if (url.pathname === "/token") {
          await oauth.token(request, response)
        } else if (url.pathname === "/resource") {
          const token = await oauth.authenticate(request, response)
          response.status = 200
          response.body = { ok: true, client: token.client.id, scope: token.scope }
        } else {
          response.status = 404
          response.body = { error: "not_found" }
        }
      } catch (error: any) {
        // token() and authenticate() have set status and body for OAuth errors already
        if (response.body === undefined || Object.keys(response.body).length === 0) {
          response.status = error.code ?? 500
          response.body = { error: error.name, error_description: error.message }
        }
      }
      res.writeHead(response.status ?? 200, { "content-type": "application/json", ...response.headers })
      res.end(JSON.stringify(response.body))
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    return { server, base, journal }
  }),
  ({ server }) => Effect.promise(() => close(server))
).pipe(
  Effect.map(({ base, journal }) => ({
    ...journal,
    base,
    tokenUrl: `${base}/token`,
    resourceUrl: `${base}/resource`
  }))
)

/**
 * @since 0.0.0
 * @category tags
 */
export class Server extends Context.Tag("@oauth-cc/interop/NodeOauthServer")<Server, NodeOauthServer>() {}

/**
 * The server for the tests of one file: started when the layer is built, stopped when it is released.
 *
 * @since 0.0.0
 * @category layers
 */
export const layer: Layer.Layer<Server> = Layer.scoped(Server, start)
