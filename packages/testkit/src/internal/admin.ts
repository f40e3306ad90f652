/**
 * The admin API of the fake server, for test suites in any language: under `/__admin/` on the server's own
 * port, JSON in and out, every input decoded with Schema (a bad one is a 400 with a message, never a crash).
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Crypto from "node:crypto"
import type * as FakeAuthServer from "../FakeAuthServer.js"
import * as FakeResponse from "../FakeResponse.js"
import type { IncomingRequest, Outcome, ServerState } from "./handler.js"

/** The reserved path prefix. @internal */
export const adminPrefix = "/__admin/"

/** A final status: a 1xx (101 above all) is not an answer the server can serve in place of a token response. */
const Status = Schema.Int.pipe(
  Schema.between(200, 599, { message: () => "a status between 200 and 599 (no 1xx: it is not a final answer)" })
)
/** RFC 9110 §5.1 field-name: a token. */
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
/** RFC 9110 §5.5 field-value: visible characters, space, tab and obs-text; no CR, LF, NUL or other controls. */
const HeaderValue = Schema.String.pipe(
  Schema.pattern(/^[\t\x20-\x7e\x80-\xff]*$/, {
    message: () => "a header value has no CR, LF, NUL or other control characters (RFC 9110 §5.5)"
  })
)
const Headers = Schema.Record({ key: Schema.String, value: HeaderValue }).pipe(
  Schema.filter((headers) =>
    Object.keys(headers).every((name) => headerName.test(name)) ||
    "a header name is an RFC 9110 token (letters, digits and !#$%&'*+.^_`|~-)"
  )
)
const RetryAfter = Schema.Union(Schema.NonNegativeInt, HeaderValue)
const textBody = { body: Schema.optional(Schema.String), contentType: Schema.optional(HeaderValue) }

const Kinds = {
  token: Schema.Struct({
    kind: Schema.Literal("token"),
    expiresIn: Schema.optional(Schema.Number),
    expiresInAsString: Schema.optional(Schema.Boolean),
    omitExpiresIn: Schema.optional(Schema.Boolean),
    tokenType: Schema.optional(Schema.String),
    scope: Schema.optional(Schema.String),
    extra: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
  }),
  oauthError: Schema.Struct({
    kind: Schema.Literal("oauthError"),
    code: Schema.NonEmptyString,
    description: Schema.optional(Schema.String),
    uri: Schema.optional(Schema.String),
    status: Schema.optional(Status)
  }),
  rateLimited: Schema.Struct({
    kind: Schema.Literal("rateLimited"),
    retryAfter: Schema.optional(RetryAfter),
    ...textBody
  }),
  unavailable: Schema.Struct({
    kind: Schema.Literal("unavailable"),
    retryAfter: Schema.optional(RetryAfter),
    ...textBody
  }),
  serverError: Schema.Struct({ kind: Schema.Literal("serverError"), status: Schema.optional(Status), ...textBody }),
  malformed: Schema.Struct({
    kind: Schema.Literal("malformed"),
    body: Schema.String,
    status: Schema.optional(Status),
    contentType: Schema.optional(HeaderValue)
  }),
  raw: Schema.Struct({
    kind: Schema.Literal("raw"),
    status: Status,
    headers: Schema.optional(Headers),
    body: Schema.optional(Schema.String)
  }),
  fault: Schema.Struct({
    kind: Schema.Literal("hang", "resetConnection", "closeWithoutResponse", "partialBody", "garbage")
  })
}

/** A `FakeResponse` as JSON: `{"kind": "rateLimited", "retryAfter": 2}`; `delay` wraps another. */
interface DelayJson {
  readonly kind: "delay"
  readonly millis: number
  readonly response?: ResponseJson | undefined
}
type ResponseJson = Schema.Schema.Type<(typeof Kinds)[keyof typeof Kinds]> | DelayJson

const Delay: Schema.Schema<DelayJson> = Schema.Struct({
  kind: Schema.Literal("delay"),
  millis: Schema.Number.pipe(Schema.between(0, 3_600_000)),
  response: Schema.optional(Schema.suspend((): Schema.Schema<ResponseJson> => Response))
})

/** Every `FakeResponse` kind. @internal */
export const Response: Schema.Schema<ResponseJson> = Schema.Union(
  Kinds.token,
  Kinds.oauthError,
  Kinds.rateLimited,
  Kinds.unavailable,
  Kinds.serverError,
  Kinds.malformed,
  Kinds.raw,
  Kinds.fault,
  Delay
)

const defined = <A extends Record<string, unknown>>(fields: A) =>
  Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as {
    [K in keyof A]: Exclude<A[K], undefined>
  }

/** @internal */
export const toFakeResponse = (json: ResponseJson): FakeResponse.FakeResponse => {
  switch (json.kind) {
    case "token": {
      const { kind: _, ...options } = json
      return FakeResponse.token(defined(options))
    }
    case "oauthError": {
      const { code, kind: _, ...options } = json
      return FakeResponse.oauthError(code, defined(options))
    }
    case "rateLimited":
    case "unavailable":
    case "serverError": {
      const { kind, ...options } = json
      return FakeResponse[kind](defined(options))
    }
    case "malformed": {
      const { body, kind: _, ...options } = json
      return FakeResponse.malformed(body, defined(options))
    }
    case "raw": {
      const { kind: _, ...options } = json
      return FakeResponse.raw(defined(options))
    }
    case "delay":
      return FakeResponse.delay(
        Duration.millis(json.millis),
        json.response === undefined ? undefined : toFakeResponse(json.response)
      )
    default:
      return FakeResponse[json.kind]()
  }
}

const AuthMethod = Schema.Literal(
  "client_secret_basic",
  "client_secret_post",
  "client_secret_jwt",
  "private_key_jwt",
  "none"
)

/** A JWK that Node imports as a public key (an EC key without `y`, a bad curve or modulus: refused). */
const Jwk = Schema.Record({ key: Schema.String, value: Schema.Unknown }).pipe(
  Schema.filter((jwk) => {
    try {
      Crypto.createPublicKey({ key: jwk as Crypto.JsonWebKey, format: "jwk" })
      return true
    } catch {
      return "expected a JWK that imports as a public key (EC with crv, x and y; OKP with crv and x; RSA with n and e)"
    }
  })
)

/** A PEM public key (SPKI or a certificate), decoded into a `KeyObject`. */
const PemPublicKey = Schema.transformOrFail(Schema.String, Schema.Any, {
  strict: true,
  decode: (pem, _, ast) =>
    Either.try({
      try: () => Crypto.createPublicKey(pem),
      catch: () => new ParseResult.Type(ast, "<pem>", "expected a PEM public key")
    }),
  encode: (key, _, ast) => ParseResult.fail(new ParseResult.Forbidden(ast, key, "a key is not encoded"))
})

/** A client as JSON, for `POST /__admin/clients` and the `--config` file. @internal */
export const ClientJson = Schema.Struct({
  id: Schema.NonEmptyString,
  secret: Schema.optional(Schema.NonEmptyString),
  scopes: Schema.optional(Schema.Array(Schema.String)),
  authMethods: Schema.optional(Schema.Array(AuthMethod)),
  basicEncoding: Schema.optional(Schema.Literal("form", "raw")),
  /** A JWK, or a PEM string. */
  publicKey: Schema.optional(Schema.Union(Jwk, PemPublicKey)),
  jwks: Schema.optional(Schema.Struct({ keys: Schema.Array(Jwk) }))
})

/** @internal */
export const toClientOptions = (json: Schema.Schema.Type<typeof ClientJson>): FakeAuthServer.ClientOptions =>
  defined({
    id: json.id,
    // A client without a secret authenticates with private_key_jwt (or none): a random one nobody knows.
    secret: json.secret ?? Crypto.randomBytes(32).toString("base64url"),
    scopes: json.scopes,
    authMethods: json.authMethods,
    basicEncoding: json.basicEncoding,
    publicKey: json.publicKey as FakeAuthServer.ClientOptions["publicKey"],
    jwks: json.jwks as FakeAuthServer.ClientOptions["jwks"]
  }) as FakeAuthServer.ClientOptions

const Enqueue = Schema.Struct({ responses: Schema.NonEmptyArray(Response) })
const Always = Schema.Struct({ response: Response })
const Revoke = Schema.Struct({ token: Schema.NonEmptyString })
const Ttl = Schema.Struct({ seconds: Schema.Int.pipe(Schema.between(1, 366 * 24 * 3600)) })
const Clients = Schema.Struct({ clients: Schema.NonEmptyArray(ClientJson) })
/** RFC 9449 §8: `1*NQCHAR`; `null` stops demanding a nonce. */
const DPoPNonce = Schema.Struct({
  nonce: Schema.NullOr(Schema.String.pipe(Schema.pattern(/^[\x21\x23-\x5B\x5D-\x7E]{1,2048}$/)))
})

const reply = (status: number, body: unknown): Outcome => ({
  _tag: "Respond",
  status,
  headers: { "cache-control": "no-store", "content-type": "application/json" },
  body: JSON.stringify(body)
})

/**
 * A decode error as `path: message` lines. Not the tree formatter: on a mismatch it prints the whole input
 * object, secrets included.
 *
 * @internal
 */
export const formatError = (error: ParseResult.ParseError): string => {
  try {
    return ParseResult.ArrayFormatter.formatErrorSync(error)
      // "Expected X, actual <the input>": the input may be a secret
      .map((issue) =>
        `${issue.path.length === 0 ? "body" : issue.path.join(".")}: ${issue.message.replace(/,? actual [\s\S]*$/, "")}`
      )
      .join("; ")
      .slice(0, 1000)
  } catch {
    return "the body does not match the schema"
  }
}

const maxDepth = 32

/** Nesting depth of JSON text (brackets outside strings), stopping past `limit`: decoding deeper input is refused. */
const depthOver = (text: string, limit: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 91 || c === 123) {
      if (++depth > limit) return true
    } else if (c === 93 || c === 125) depth--
  }
  return false
}

/** Decodes the JSON body with `schema`, then acts; any bad input is a 400 naming what was wrong. */
const withBody = <A, I>(
  request: IncomingRequest,
  schema: Schema.Schema<A, I>,
  act: (value: A) => Effect.Effect<Outcome>
): Effect.Effect<Outcome> => {
  let parsed: unknown
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(request.body ?? new Uint8Array())
    if (depthOver(text, maxDepth)) {
      return Effect.succeed(reply(400, { error: "invalid_request", message: `the body nests deeper than ${maxDepth}` }))
    }
    parsed = JSON.parse(text)
  } catch {
    return Effect.succeed(reply(400, { error: "invalid_request", message: "the body must be JSON (UTF-8)" }))
  }
  return Either.match(Schema.decodeUnknownEither(schema, { onExcessProperty: "error" })(parsed), {
    onLeft: (error) => Effect.succeed(reply(400, { error: "invalid_request", message: formatError(error) })),
    onRight: act
  })
}

const routes = "GET|DELETE journal, POST enqueue, POST always, POST reset, POST clients, POST revoke, PUT ttl, " +
  "POST expire-all, PUT dpop-nonce"

/**
 * Answers one admin request. Routes (JSON bodies):
 * `GET journal` (the journal and counters), `DELETE journal`, `POST enqueue {"responses": [...]}`,
 * `POST always {"response": ...}`, `POST reset`, `POST clients {"clients": [...]}` (added, or replacing the
 * client of the same id), `POST revoke {"token": "..."}`, `PUT ttl {"seconds": n}`, `POST expire-all`,
 * `PUT dpop-nonce {"nonce": "..." | null}`.
 *
 * @internal
 */
export const handleAdmin = (state: ServerState, request: IncomingRequest): Effect.Effect<Outcome> =>
  Effect.catchAllDefect(
    Effect.suspend(() => route(state, request)),
    () => Effect.succeed(reply(500, { error: "server_error", message: "the admin request failed" }))
  )

const route = (state: ServerState, request: IncomingRequest): Effect.Effect<Outcome> => {
  const name = `${request.method} ${request.path.split("?")[0]!.slice(adminPrefix.length)}`
  switch (name) {
    case "GET journal":
      return Effect.sync(() =>
        reply(200, {
          requests: state.journal,
          tokenRequestCount: state.tokenRequestCount,
          resourceRequestCount: state.resourceRequestCount,
          unauthenticatedResourceRequests: state.unauthenticatedResourceRequests,
          resource401Count: state.resource401Count,
          maxTokenRequestsInFlight: state.maxInFlight
        })
      )
    case "DELETE journal":
      return Effect.sync(() => {
        state.clearRequests()
        return reply(200, { cleared: true })
      })
    case "POST enqueue":
      return withBody(request, Enqueue, ({ responses }) =>
        Effect.sync(() => {
          state.queue.push(...responses.map(toFakeResponse))
          return reply(200, { queued: state.queue.length })
        }))
    case "POST always":
      return withBody(request, Always, ({ response }) =>
        Effect.sync(() => {
          state.alwaysResponse = toFakeResponse(response)
          return reply(200, { always: response.kind })
        }))
    case "POST reset":
      return Effect.sync(() => {
        state.queue = []
        state.alwaysResponse = undefined
        return reply(200, { reset: true })
      })
    case "POST clients":
      return withBody(request, Clients, ({ clients }) =>
        Effect.sync(() => {
          for (const client of clients) state.registerClient(toClientOptions(client))
          return reply(200, { clients: state.clients.map((c) => ({ id: c.id, authMethods: c.authMethods })) })
        }))
    case "POST revoke":
      return withBody(request, Revoke, ({ token }) => Effect.sync(() => reply(200, { revoked: state.revoke(token) })))
    case "PUT ttl":
      return withBody(request, Ttl, ({ seconds }) =>
        Effect.sync(() => {
          state.ttlMillis = seconds * 1000
          return reply(200, { ttl: seconds })
        }))
    case "PUT dpop-nonce":
      return withBody(request, DPoPNonce, ({ nonce }) =>
        Effect.sync(() => {
          state.dpopNonce = nonce ?? undefined
          return reply(200, { demanded: nonce !== null })
        }))
    case "POST expire-all":
      return Effect.sync(() => {
        state.expireAll()
        return reply(200, { expired: true })
      })
    default:
      return Effect.map(
        Clock.currentTimeMillis,
        () => reply(404, { error: "not_found", message: `no admin route ${name}; routes: ${routes}` })
      )
  }
}
