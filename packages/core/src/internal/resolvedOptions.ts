import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import type * as ClientCredentials from "../ClientCredentials.js"
import type * as DPoP from "../DPoP.js"
import { lifetimeSeconds } from "./clientAssertion.js"
import { clientAuthFor, type ClientAuthOptions } from "./clientAuth.js"
import {
  assertionKey,
  defaultAuthMethod,
  dpopKey,
  issuerString,
  normalizeList,
  splitList,
  validate
} from "./clientCredentials.js"
import * as CredentialSource from "./credentialSource.js"
import { jwkMember } from "./privateKey.js"
import type { Endpoint } from "./tokenEndpoint.js"

/** @internal */
export type Source =
  | { readonly _tag: "Configured"; readonly endpoint: Endpoint }
  | { readonly _tag: "Discovered"; readonly issuer: string }

/** @internal */
export interface Resolved {
  /**
   * Where tokens come from: the configured endpoint with its client authentication resolved once, or the
   * issuer whose metadata names the endpoint (the method is then chosen from the server's list).
   */
  readonly source: Source
  /** The token endpoint, when configured; else it is discovered from `issuer`. */
  readonly tokenUrl: URL | undefined
  readonly issuer: string | undefined
  readonly clientId: string
  /** The secret, read from its source on every request; its `scrub` masks every value it gave. */
  readonly clientSecret: CredentialSource.CredentialSource | undefined
  /** The method; `undefined` when it is chosen from the issuer's metadata. */
  readonly authMethod: ClientCredentials.AuthMethod | undefined
  readonly assertion: ClientAuthOptions["assertion"]
  readonly allowInsecureHttp: boolean
  /** DPoP: the key options (imported by `TokenProvider.make`), with the algorithm settled. */
  readonly dpop: { readonly options: DPoP.Options; readonly allowBearer: boolean } | undefined
  readonly basicEncoding: "form" | "raw"
  readonly scope: ReadonlyArray<string>
  readonly audience: string | undefined
  readonly resource: ReadonlyArray<string>
  readonly extraParams: Readonly<Record<string, string>>
  readonly refreshSkewMillis: number
  readonly refreshAhead: number
  readonly defaultExpiresInMillis: number
  readonly assumeBearer: boolean
  readonly requestTimeoutMillis: number
  readonly failureCooldownMillis: number
  readonly maxCachedKeys: number
  readonly maxResponseBytes: number
  readonly retry: {
    readonly baseDelayMillis: number
    readonly factor: number
    readonly maxDelayMillis: number
    readonly maxAttempts: number
    readonly maxElapsedMillis: number
    readonly maxRetryAfterMillis: number
    readonly jitter: boolean
  }
}

const millis = (input: Duration.DurationInput | undefined, fallback: Duration.DurationInput): number =>
  Duration.toMillis(Duration.decode(input ?? fallback))

/**
 * Validates and fills in defaults. Options given in code that do not validate are a programming
 * error: this throws the `ConfigError`'s message (`layerConfig` reports it as a `ConfigError` instead).
 *
 * @internal
 */
export const resolve = (options: ClientCredentials.Options): Resolved => {
  const valid = validate(options)
  if (Either.isLeft(valid)) throw new Error(`invalid ClientCredentials options: ${String(valid.left)}`)
  const retry = options.retry ?? {}
  const assertion = options.clientAssertion ?? {}
  const key = assertion.key === undefined ? undefined : Either.getOrThrow(assertionKey(assertion))
  const tokenUrl = options.tokenUrl === undefined ? undefined : new URL(options.tokenUrl)
  const issuer = options.issuer === undefined ? undefined : issuerString(options.issuer)
  const fields = {
    tokenUrl,
    issuer,
    clientId: options.clientId,
    clientSecret: options.clientSecret === undefined
      ? undefined
      : CredentialSource.make(options.clientSecret, options.clientId),
    authMethod: defaultAuthMethod(options),
    assertion: {
      key: key?.key,
      alg: key?.alg,
      kid: assertion.kid ?? jwkMember(assertion.key, "kid"),
      header: assertion.header ?? {},
      lifetimeSeconds: lifetimeSeconds(assertion.lifetime),
      audience: assertion.audience,
      source: assertion.source === undefined ? undefined : CredentialSource.make(assertion.source, options.clientId)
    },
    allowInsecureHttp: options.allowInsecureHttp === true,
    dpop: options.dpop === undefined ? undefined : {
      options: { key: options.dpop.key, alg: Either.getOrThrow(dpopKey(options.dpop)) },
      allowBearer: options.dpop.allowBearer === true
    },
    basicEncoding: options.basicEncoding ?? "form",
    scope: normalizeList(splitList(options.scope)),
    audience: options.audience,
    resource: normalizeList(splitList(options.resource)),
    extraParams: options.extraParams ?? {},
    refreshSkewMillis: millis(options.refreshSkew, "60 seconds"),
    refreshAhead: options.refreshAhead ?? 0.8,
    defaultExpiresInMillis: millis(options.defaultExpiresIn, "5 minutes"),
    assumeBearer: options.assumeBearer ?? false,
    requestTimeoutMillis: millis(options.requestTimeout, "10 seconds"),
    failureCooldownMillis: millis(options.failureCooldown, "1 second"),
    maxCachedKeys: options.maxCachedKeys ?? 1000,
    maxResponseBytes: options.maxResponseBytes ?? 1024 * 1024,
    retry: {
      baseDelayMillis: millis(retry.baseDelay, "200 millis"),
      factor: retry.factor ?? 2,
      maxDelayMillis: millis(retry.maxDelay, "10 seconds"),
      maxAttempts: retry.maxAttempts ?? 5,
      maxElapsedMillis: millis(retry.maxElapsed, "30 seconds"),
      maxRetryAfterMillis: millis(retry.maxRetryAfter, "30 seconds"),
      jitter: retry.jitter ?? true
    }
  }
  const source = sourceOf(fields, tokenUrl, issuer)
  if (source === undefined) throw new Error("invalid ClientCredentials options: no credentials for the auth method")
  return { ...fields, source }
}

const sourceOf = (
  fields: Omit<Resolved, "source">,
  tokenUrl: URL | undefined,
  issuer: string | undefined
): Source | undefined => {
  if (tokenUrl === undefined) return issuer === undefined ? undefined : { _tag: "Discovered", issuer }
  // validate checked that the credentials fit the method: a missing strategy is refused like invalid options
  const auth = fields.authMethod === undefined ? undefined : clientAuthFor(fields.authMethod, fields)
  return auth === undefined ? undefined : { _tag: "Configured", endpoint: { tokenUrl, issuer, auth } }
}
