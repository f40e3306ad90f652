import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as AuthorizedHttpClient from "@oauth-cc/core/AuthorizedHttpClient"
import * as ClientCredentials from "@oauth-cc/core/ClientCredentials"
import * as TokenProvider from "@oauth-cc/core/TokenProvider"
import type * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as NodeAuthorizedHttpClient from "../NodeAuthorizedHttpClient.js"
import type * as NodeTokenProvider from "../NodeTokenProvider.js"
import type * as NodeTransport from "../NodeTransport.js"
import { nodeFiles } from "./credentialFiles.js"
import { makeDispatcher } from "./nodeTransport.js"

/**
 * Splits the Node layers' options into the grant's and the transport's. A client certificate without
 * a secret, an assertion key or a method selects `tls_client_auth`; `tls_client_auth` without a certificate is an error.
 *
 * @internal
 */
export const split = (
  options: NodeTokenProvider.Options
): Effect.Effect<readonly [ClientCredentials.Options, NodeTransport.Options], ConfigError.ConfigError> => {
  const { connectTimeout, keepAlive, proxy, tls, ...grant } = options
  const hasCert = tls?.cert !== undefined && tls.key !== undefined
  const credentials: ClientCredentials.Options =
    grant.authMethod === undefined && grant.clientSecret === undefined && grant.clientAssertion?.key === undefined &&
      grant.clientAssertion?.source === undefined && hasCert
      ? { ...grant, authMethod: "tls_client_auth" }
      : grant
  if (credentials.authMethod === "tls_client_auth" && !hasCert) {
    return Effect.fail(
      ConfigError.InvalidData(["tls"], "tls_client_auth needs a client certificate: tls.cert and tls.key")
    )
  }
  return Effect.succeed([credentials, { connectTimeout, keepAlive, proxy, tls }] as const)
}

/** The provider and the undici client it uses, sharing one dispatcher. @internal */
export const make = (
  options: NodeTokenProvider.Options
): Effect.Effect<
  readonly [TokenProvider.Service, HttpClient.HttpClient],
  ConfigError.ConfigError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const [credentials, transport] = yield* split(options)
    const client = NodeHttpClient.makeUndici(yield* makeDispatcher(transport))
    const provider = yield* Effect.provideService(TokenProvider.make(credentials), HttpClient.HttpClient, client)
    return [provider, client] as const
  })

/** Options given in code, merged under the ones a `Config` read. @internal */
export const fromConfig = <A extends object>(
  config: Config.Config<NodeTokenProvider.Options>,
  extra: A
): Effect.Effect<NodeTokenProvider.Options & A, ConfigError.ConfigError> =>
  Effect.map(config, (options) => ({ ...extra, ...dropUndefined(options) }) as NodeTokenProvider.Options & A).pipe(
    // a DPoP key Web Crypto refuses is a ConfigError here, not a defect at provider build
    Effect.tap(ClientCredentials.check)
  )

const dropUndefined = <A extends object>(a: A): Partial<A> =>
  Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as Partial<A>

/** @internal */
export const providerLayer = (
  options: Effect.Effect<NodeTokenProvider.Options, ConfigError.ConfigError>
): Layer.Layer<TokenProvider.TokenProvider, ConfigError.ConfigError> =>
  Layer.scoped(TokenProvider.TokenProvider, Effect.map(Effect.flatMap(options, make), ([provider]) => provider))

/** @internal */
export const authorizedLayer = (
  options: Effect.Effect<NodeAuthorizedHttpClient.Options, ConfigError.ConfigError>
): Layer.Layer<AuthorizedHttpClient.AuthorizedHttpClient | TokenProvider.TokenProvider, ConfigError.ConfigError> =>
  Layer.scopedContext(Effect.gen(function*() {
    const { params, retryOn401, ...rest } = yield* options
    const [provider, client] = yield* make(rest)
    // one `allowInsecureHttp` for both: the token endpoint's and the resources' plain-http opt-in
    const authorized = AuthorizedHttpClient.authorize(client, provider, {
      retryOn401,
      params,
      allowInsecureHttp: rest.allowInsecureHttp
    })
    return Context.make(TokenProvider.TokenProvider, provider).pipe(
      Context.add(AuthorizedHttpClient.AuthorizedHttpClient, authorized)
    )
  }))

/** @internal */
export const defaultConfig = (): Config.Config<NodeTokenProvider.Options> =>
  ClientCredentials.config("OAUTH", {}, nodeFiles)
