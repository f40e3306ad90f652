import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as AccessToken from "../AccessToken.js"
import * as TokenError from "../TokenError.js"
import type * as TokenExchange from "../TokenExchange.js"
import type * as TokenProvider from "../TokenProvider.js"
import * as ClientCredentialsSource from "./clientCredentialsSource.js"
import { scrubSources } from "./credentialSource.js"
import { ath } from "./dpop.js"
import * as ProviderCache from "./providerCache.js"
import { resolve, type Resolved } from "./resolvedOptions.js"
import { makeScrub, type Scrub } from "./scrub.js"
import * as TokenCache from "./tokenCache.js"
import * as TokenEndpoint from "./tokenEndpoint.js"

/** @internal */
export const grantType = "urn:ietf:params:oauth:grant-type:token-exchange"

/** @internal */
export const TokenType = {
  accessToken: "urn:ietf:params:oauth:token-type:access_token",
  refreshToken: "urn:ietf:params:oauth:token-type:refresh_token",
  idToken: "urn:ietf:params:oauth:token-type:id_token",
  saml1: "urn:ietf:params:oauth:token-type:saml1",
  saml2: "urn:ietf:params:oauth:token-type:saml2",
  jwt: "urn:ietf:params:oauth:token-type:jwt"
} as const

const knownTypes: ReadonlySet<string> = new Set(Object.values(TokenType))

/** Parameters the exchange sets itself: an extra parameter of one of these names is not sent. */
const exchangeParams: ReadonlySet<string> = new Set([
  "subject_token",
  "subject_token_type",
  "actor_token",
  "actor_token_type",
  "requested_token_type"
])

/** The subject (and actor) token of one fetch, with their identities (SHA-256, never the tokens). */
interface Subject {
  readonly subject: Redacted.Redacted<string>
  readonly actor: Redacted.Redacted<string> | undefined
  readonly id: string
  /** The default parameters' key for these tokens, made on first need: `get` costs one comparison. */
  defaultKey?: readonly [string, Key]
}

interface Key {
  readonly params: ClientCredentialsSource.Params
  readonly subject: Subject
}

const IssuedTokenType = Schema.Struct({
  issued_token_type: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1024))
})
const decodeIssued = Schema.decodeUnknownEither(IssuedTokenType, { onExcessProperty: "ignore" })

/**
 * RFC 8693 §2.2.1: `issued_token_type` is required. Without `requestedTokenType`, the provider serves access
 * tokens, so the issued type must be `access_token`; with it, the issued type must be the one asked for. A
 * `token_type` of `N_A` is accepted only when the issued token is not an access token.
 */
const checkIssued = (expected: string) => (body: object, status: number) =>
  Either.flatMap(
    Either.mapLeft(decodeIssued(body), () =>
      new TokenError.TokenResponseInvalid({
        status,
        reason: "UnsupportedTokenType",
        detail: "issued_token_type is missing or not a string (RFC 8693 §2.2.1)"
      })),
    ({ issued_token_type }) =>
      issued_token_type === expected
        ? Either.right({ allowNA: expected !== TokenType.accessToken })
        : Either.left(
          new TokenError.TokenResponseInvalid({
            status,
            reason: "UnsupportedTokenType",
            // only a registered type is quoted: the member is the server's text
            detail: `issued_token_type ${
              knownTypes.has(issued_token_type) ? `"${issued_token_type}"` : "(an unregistered type)"
            } is not the requested "${expected}"`
          })
        )
  )

/**
 * The token exchange request (RFC 8693 §2.1): the client credentials grant's parameters (scope, audience,
 * resources, extra parameters) under the token exchange `grant_type`, with the subject token, the actor
 * token and the requested type.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1
 * @internal
 */
export const grant = (
  options: Resolved,
  exchange: Pick<TokenExchange.Options, "subjectTokenType" | "actorTokenType" | "requestedTokenType">,
  key: Key
): TokenEndpoint.Grant => {
  const base = ClientCredentialsSource.grant(options, key.params)
  const form: Array<readonly [string, string]> = [
    ["grant_type", grantType],
    ["subject_token", Redacted.value(key.subject.subject)],
    ["subject_token_type", exchange.subjectTokenType]
  ]
  if (key.subject.actor !== undefined) {
    form.push(["actor_token", Redacted.value(key.subject.actor)])
    form.push(["actor_token_type", exchange.actorTokenType ?? TokenType.jwt])
  }
  if (exchange.requestedTokenType !== undefined) form.push(["requested_token_type", exchange.requestedTokenType])
  // the client credentials form without its grant_type, nor an extra parameter the exchange sets
  for (const entry of base.form.slice(1)) {
    if (!exchangeParams.has(entry[0])) form.push(entry)
  }
  return {
    form,
    scope: base.scope,
    checkResponse: checkIssued(exchange.requestedTokenType ?? TokenType.accessToken)
  }
}

/**
 * A token exchange provider: the token cache over the token exchange source. The subject (and actor) token is
 * read on every `get`, and its SHA-256 is part of the cache key: a new subject token gets a new exchange.
 *
 * @internal
 */
export const make = (
  options: TokenExchange.Options
): Effect.Effect<TokenProvider.Service, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = resolve(options)
    const client = yield* HttpClient.HttpClient
    const scope = yield* Effect.scope
    const clientScrub = scrubSources(resolved.clientSecret, resolved.assertion.source)
    const endpoint = ClientCredentialsSource.resolveEndpoint(client, resolved, scope)
    // what the server sends back is masked of the client secret and of this fetch's subject and actor tokens
    const scrubFor = (subject: Subject): Scrub => {
      const subjectScrub = makeScrub(subject.subject, resolved.clientId)
      const actorScrub = makeScrub(subject.actor, resolved.clientId)
      return (text) => actorScrub(subjectScrub(clientScrub(text)))
    }
    const lookup = (key: Key): Effect.Effect<AccessToken.AccessToken, TokenError.TokenError> =>
      Effect.flatMap(endpoint, (endpoint) =>
        ClientCredentialsSource.withRotation(
          TokenEndpoint.fetch(client, resolved, endpoint, grant(resolved, options, key), scrubFor(key.subject)),
          endpoint.auth.rotated
        ))
    const { cache, store } = yield* ProviderCache.make(resolved, lookup)

    // the identity of the last tokens read, so that an unchanged subject token is not hashed again
    let last: Subject | undefined
    const subject: Effect.Effect<Subject, TokenError.TokenError> = Effect.flatMap(
      // a source that dies (a rejected promise read with Effect.promise) fails the call with a TokenError
      TokenCache.defectAsFailure(Effect.all([options.subjectToken, options.actorToken ?? Effect.succeed(undefined)])),
      ([subjectToken, actorToken]) => {
        if (
          last !== undefined && Redacted.value(last.subject) === Redacted.value(subjectToken) &&
          (last.actor === undefined ?
            actorToken === undefined :
            actorToken !== undefined && Redacted.value(last.actor) === Redacted.value(actorToken))
        ) return Effect.succeed(last)
        return Effect.map(
          Effect.all([ath(subjectToken), actorToken === undefined ? Effect.succeed("") : ath(actorToken)]),
          ([subjectId, actorId]) => (last = { subject: subjectToken, actor: actorToken, id: `${subjectId}.${actorId}` })
        )
      }
    )

    const defaultParams = ClientCredentialsSource.defaultParams(resolved)
    const keyOf = (params: TokenProvider.Params | undefined, subject: Subject) => {
      const normalized = params === undefined
        ? defaultParams
        : ClientCredentialsSource.normalizeParams(resolved, params)
      const id = JSON.stringify([
        grantType,
        ClientCredentialsSource.cacheKey(resolved, normalized),
        options.subjectTokenType,
        options.actorTokenType ?? null,
        options.requestedTokenType ?? null,
        subject.id
      ])
      return [id, { params: normalized, subject }] as const
    }
    const defaultKeyOf = (subject: Subject) => (subject.defaultKey ??= keyOf(undefined, subject))
    const get = (params: TokenProvider.Params | undefined) =>
      Effect.flatMap(
        subject,
        (subject) => cache.get(...(params === undefined ? defaultKeyOf(subject) : keyOf(params, subject)))
      )

    return {
      get: get(undefined),
      getFor: get,
      refresh: Effect.flatMap(subject, (subject) => cache.refresh(...defaultKeyOf(subject))),
      invalidate: (token, params) =>
        Effect.flatMap(Effect.option(subject), (subject) =>
          Option.isNone(subject) ? Effect.void : store.remove(keyOf(params, subject.value)[0], token))
    } satisfies TokenProvider.Service
  })
