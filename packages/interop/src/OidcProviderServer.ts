/**
 * panva's oidc-provider 9 (an OpenID Certified authorization server), started in-process on
 * 127.0.0.1 with an ephemeral port, configured for the client credentials grant.
 *
 * - Clients for every authentication method: `client_secret_basic`, `client_secret_post`,
 *   `private_key_jwt` (ES256 and RS256), `client_secret_jwt`, and a secret with `% + : & = / @`.
 * - Resource indicators (RFC 8707): one API, whose access tokens are ES256-signed JWTs (RFC 9068);
 *   any other resource is `invalid_target`.
 * - Scopes `api:read` and `api:write` allowed; `admin` known to the server but allowed to no client.
 * - Grants are counted with the server's own `grant.success` event; faults are injected by a Koa
 *   middleware in front of its routes.
 * - DPoP (RFC 9449) with ES256, EdDSA, RS256 and PS256 proofs, and a client whose tokens must be
 *   DPoP-bound (`dpop_bound_access_tokens`); `startWith({ dpopNonces: true })` / `layerWithDPoPNonces`
 *   make the server demand a nonce in every proof (`features.dPoP.nonceSecret`, `requireNonce`).
 *
 * @since 0.0.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { type Journal, makeJournal } from "./faults.js"
import { close, keyPair, quietly } from "./internal.js"

/**
 * @since 0.0.0
 * @category constants
 */
export const api = "https://api.example.test"

/**
 * The clients the server knows, with their credentials.
 *
 * @since 0.0.0
 * @category constants
 */
export const clients = {
  basic: { id: "cc-basic", secret: "basic-secret" },
  post: { id: "cc-post", secret: "post-secret" },
  es256: { id: "cc-pkjwt-es256", key: keyPair("ES256", "client-es256") },
  rs256: { id: "cc-pkjwt-rs256", key: keyPair("RS256", "client-rs256") },
  secretJwt: { id: "cc-secret-jwt", secret: "a-client-secret-of-more-than-32-bytes-for-HS256" },
  special: { id: "cc-special", secret: "p@ss:w+rd/%&=" },
  dpop: { id: "cc-dpop", secret: "dpop-secret" }
} as const

/**
 * The DPoP proof algorithms the server accepts (its default is ES256 and EdDSA only).
 *
 * @since 0.0.0
 * @category constants
 */
export const dpopAlgorithms = ["ES256", "EdDSA", "RS256", "PS256"] as const

/**
 * @since 0.0.0
 * @category models
 */
export interface Options {
  /** Demand a DPoP nonce in every proof (RFC 9449 §8). Default: false. */
  readonly dpopNonces?: boolean | undefined
}

/**
 * @since 0.0.0
 * @category models
 */
export interface OidcProviderServer extends Journal {
  readonly issuer: string
  readonly tokenUrl: string
  readonly jwksUri: string
}

const serverKey = keyPair("ES256", "as-es256")

const allowed = "api:read api:write"

const secretClient = (id: string, secret: string, method: string) => ({
  client_id: id,
  client_secret: secret,
  token_endpoint_auth_method: method,
  scope: allowed
})

const keyClient = (id: string, key: ReturnType<typeof keyPair>) => ({
  client_id: id,
  token_endpoint_auth_method: "private_key_jwt",
  token_endpoint_auth_signing_alg: key.alg,
  jwks: { keys: [key.publicJwk] },
  scope: allowed
})

/**
 * Starts the server (bound first, so the issuer can carry the ephemeral port) and stops it with the scope.
 *
 * @since 0.0.0
 * @category constructors
 */
export const startWith = (options: Options = {}): Effect.Effect<OidcProviderServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const { default: Provider, errors } = await quietly(() => import("oidc-provider"))
      const server = createServer()
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const { arrived, granted, journal } = makeJournal()
      const provider = quietly(() =>
        new Provider(issuer, {
          clients: [
            secretClient(clients.basic.id, clients.basic.secret, "client_secret_basic"),
            secretClient(clients.post.id, clients.post.secret, "client_secret_post"),
            secretClient(clients.secretJwt.id, clients.secretJwt.secret, "client_secret_jwt"),
            secretClient(clients.special.id, clients.special.secret, "client_secret_basic"),
            keyClient(clients.es256.id, clients.es256.key),
            keyClient(clients.rs256.id, clients.rs256.key),
            {
              ...secretClient(clients.dpop.id, clients.dpop.secret, "client_secret_basic"),
              dpop_bound_access_tokens: true
            }
          ],
          clientDefaults: {
            grant_types: ["client_credentials"],
            response_types: [],
            redirect_uris: [],
            // the server's only key is ES256 (the default RS256 would fail every client at first use)
            id_token_signed_response_alg: "ES256"
          },
          jwks: { keys: [serverKey.privateJwk] },
          scopes: ["api:read", "api:write", "admin"],
          responseTypes: [],
          enabledJWA: { dPoPSigningAlgValues: [...dpopAlgorithms] },
          ttl: { ClientCredentials: (_ctx: unknown, token: any) => token.resourceServer?.accessTokenTTL ?? 600 },
          features: {
            clientCredentials: { enabled: true },
            devInteractions: { enabled: false },
            dPoP: {
              enabled: true,
              ...(options.dpopNonces ? { nonceSecret: randomBytes(32), requireNonce: () => true } : {})
            },
            resourceIndicators: {
              enabled: true,
              defaultResource: () => api,
              getResourceServerInfo: (_ctx: unknown, resource: string) => {
                if (resource !== api) throw new errors.InvalidTarget()
                return {
                  scope: allowed,
                  audience: api,
                  accessTokenTTL: 300,
                  accessTokenFormat: "jwt",
                  jwt: { sign: { alg: "ES256" } }
                }
              }
            }
          }
        })
      )
      provider.on("grant.success", (ctx: any) => granted(ctx.oidc.client.clientId))
      provider.use(async (ctx: any, next: () => Promise<void>) => {
        const fault = ctx.method === "POST" && ctx.path === "/token"
          ? arrived(ctx.get("authorization") || undefined)
          : undefined
        if (fault === undefined) return next()
        ctx.status = fault.status
        for (const [name, value] of Object.entries(fault.headers ?? {})) ctx.set(name, value)
        ctx.body = fault.body ?? ""
      })
      server.on("request", provider.callback())
      return { server, issuer, journal }
    }),
    ({ server }) => Effect.promise(() => close(server))
  ).pipe(
    Effect.map(({ issuer, journal }) => ({
      ...journal,
      issuer,
      tokenUrl: `${issuer}/token`,
      jwksUri: `${issuer}/jwks`
    }))
  )

/**
 * The server as configured by default (DPoP nonces not demanded).
 *
 * @since 0.0.0
 * @category constructors
 */
export const start: Effect.Effect<OidcProviderServer, never, Scope.Scope> = startWith()

/**
 * @since 0.0.0
 * @category tags
 */
export class Server extends Context.Tag("@oauth-cc/interop/OidcProviderServer")<Server, OidcProviderServer>() {}

/**
 * The server for the tests of one file: started when the layer is built, stopped when it is released.
 *
 * @since 0.0.0
 * @category layers
 */
export const layer: Layer.Layer<Server> = Layer.scoped(Server, start)

/**
 * The server demanding a DPoP nonce in every proof.
 *
 * @since 0.0.0
 * @category layers
 */
export const layerWithDPoPNonces: Layer.Layer<Server> = Layer.scoped(Server, startWith({ dpopNonces: true }))
