import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as AccessToken from "../AccessToken.js"
import * as TokenError from "../TokenError.js"
import type { Resolved } from "./resolvedOptions.js"
import { parseRetryAfter } from "./retryAfter.js"
import type { Scrub } from "./scrub.js"
import type { RawResponse } from "./transport.js"

const maxExpiresInSeconds = 10 * 365 * 24 * 60 * 60

/**
 * `expires_in` as a string: decimal digits only (RFC 6749 §5.1 says a number; some servers quote it). No sign,
 * no whitespace, no exponent, no hex: `Number` would read "0x10" as 16 and " 1e3 " as 1000.
 */
const DecimalString = Schema.compose(Schema.String.pipe(Schema.pattern(/^[0-9]{1,16}$/)), Schema.NumberFromString)

const ExpiresIn = Schema.Union(Schema.Number, DecimalString).pipe(
  // at least one second: a positive fraction such as 1e-9 would give a token that is expired on arrival
  Schema.filter((n) => Number.isFinite(n) && n >= 1 && n <= maxExpiresInSeconds)
)

/**
 * A successful token response (RFC 6749 §5.1). Unknown members are ignored; `expires_in` may be a
 * JSON number or a string of decimal digits; `null` counts as absent.
 *
 * @internal
 */
export const TokenResponse = Schema.Struct({
  access_token: Schema.String,
  token_type: Schema.optionalWith(Schema.String, { nullable: true }),
  expires_in: Schema.optionalWith(ExpiresIn, { nullable: true }),
  scope: Schema.optionalWith(Schema.String, { nullable: true })
})

const decodeTokenResponse = Schema.decodeUnknownEither(TokenResponse, { onExcessProperty: "ignore" })

/**
 * An error response (RFC 6749 §5.2).
 *
 * @internal
 */
export const ErrorResponse = Schema.Struct({
  error: Schema.String,
  error_description: Schema.optionalWith(Schema.String, { nullable: true }),
  error_uri: Schema.optionalWith(Schema.String, { nullable: true })
})

const decodeErrorResponse = Schema.decodeUnknownOption(ErrorResponse)

/** RFC 6750 §2.1 b64token is narrower; any visible ASCII is accepted, nothing that could split a header. */
const tokenValue = /^[\x21-\x7e]+$/

const clip = (text: string, max = 200): string => text.length > max ? `${text.slice(0, max)}…` : text

/** The body as JSON, or as a form when it says so. @internal */
export const parseBody = (response: RawResponse): Option.Option<unknown> => {
  try {
    return Option.some(JSON.parse(response.body))
  } catch {
    const contentType = response.headers["content-type"] ?? ""
    if (contentType.startsWith("application/x-www-form-urlencoded")) {
      return Option.some(Object.fromEntries(new URLSearchParams(response.body)))
    }
    return Option.none()
  }
}

const invalid = (status: number, reason: TokenError.TokenResponseInvalid["reason"], detail: string) =>
  new TokenError.TokenResponseInvalid({ status, reason, detail })

const rejected = (status: number, body: unknown, scrub: Scrub): Option.Option<TokenError.TokenRequestRejected> =>
  Option.map(decodeErrorResponse(body), (e) =>
    new TokenError.TokenRequestRejected({
      status,
      error: clip(scrub(e.error), 64),
      errorDescription: e.error_description === undefined ? undefined : clip(scrub(e.error_description)),
      errorUri: e.error_uri === undefined ? undefined : clip(scrub(e.error_uri))
    }))

/**
 * The member the first issue is about, read from the issue tree. Never formatted: a formatter renders
 * the offending value, and a value nested 100,000 levels deep overflows the stack while it is rendered.
 */
const firstKey = (issue: ParseResult.ParseIssue): PropertyKey | undefined => {
  switch (issue._tag) {
    case "Pointer": {
      const path: ParseResult.Path = issue.path
      return Array.isArray(path) ? path[0] : path as PropertyKey
    }
    case "Composite": {
      const first = Array.isArray(issue.issues) ? issue.issues[0] : issue.issues
      return first === undefined ? undefined : firstKey(first as ParseResult.ParseIssue)
    }
    case "Refinement":
    case "Transformation":
      return firstKey(issue.issue)
    default:
      return undefined
  }
}

const fieldReason = (path: PropertyKey | undefined): TokenError.TokenResponseInvalid["reason"] => {
  switch (path) {
    case "access_token":
      return "MissingAccessToken"
    case "token_type":
      return "UnsupportedTokenType"
    case "expires_in":
      return "InvalidExpiresIn"
    default:
      return "InvalidScope"
  }
}

const fieldDetail: Record<TokenError.TokenResponseInvalid["reason"], string> = {
  InvalidJson: "the body is not JSON",
  NotAnObject: "the body is not a JSON object",
  MissingAccessToken: "access_token is missing or not a string",
  InvalidAccessToken: "access_token is empty or has characters a header cannot carry",
  MissingTokenType: "token_type is missing (set assumeBearer to accept that)",
  UnsupportedTokenType: "token_type is not a string",
  InvalidExpiresIn: `expires_in must be a number of seconds in [1, ${maxExpiresInSeconds}]`,
  InvalidScope: "scope is not a string",
  BodyTooLarge: "the body is over the size cap",
  UnexpectedStatus: "unexpected status",
  DPoPDowngrade: "a DPoP token request was answered with a Bearer token (set dpop.allowBearer to accept that)"
}

/** What decoding a token response depends on. @internal */
export type DecodeOptions = Pick<Resolved, "assumeBearer" | "dpop" | "defaultExpiresInMillis">

/**
 * What a grant expects of a successful answer: the scope asked for (the token's scope when the answer names
 * none, RFC 6749 §5.1), and a grant's own check of the answer's other members, run before `token_type` is read
 * (RFC 8693's `issued_token_type`); it says whether `token_type` may be `N_A` (RFC 8693 §2.2.1).
 *
 * @internal
 */
export interface RequestedScope {
  readonly scope: ReadonlyArray<string>
  readonly checkResponse?:
    | ((body: object, status: number) => Either.Either<{ readonly allowNA: boolean }, TokenError.TokenResponseInvalid>)
    | undefined
}

/**
 * Turns a successful answer into token fields, or the error it stands for.
 *
 * @internal
 */
export const decodeSuccess = (
  response: RawResponse,
  options: DecodeOptions,
  params: RequestedScope,
  now: number,
  scrub: Scrub
): Either.Either<AccessToken.AccessToken, TokenError.TokenError> => {
  const status = response.status
  const parsed = parseBody(response)
  if (Option.isNone(parsed)) return Either.left(invalid(status, "InvalidJson", fieldDetail.InvalidJson))
  const body = parsed.value
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return Either.left(invalid(status, "NotAnObject", fieldDetail.NotAnObject))
  }
  if ("error" in body) {
    const rejection = rejected(status, body, scrub)
    if (Option.isSome(rejection)) return Either.left(rejection.value)
  }
  const decoded = decodeTokenResponse(body)
  if (Either.isLeft(decoded)) {
    const reason = fieldReason(firstKey(decoded.left.issue))
    return Either.left(invalid(status, reason, fieldDetail[reason]))
  }
  const fields = decoded.right
  if (!tokenValue.test(fields.access_token)) {
    return Either.left(invalid(status, "InvalidAccessToken", fieldDetail.InvalidAccessToken))
  }
  const checked = params.checkResponse?.(body, status)
  if (checked !== undefined && Either.isLeft(checked)) return Either.left(checked.left)
  let tokenType: string
  if (fields.token_type === "N_A" && checked?.right.allowNA === true) {
    tokenType = "N_A"
  } else if (fields.token_type === undefined) {
    if (!options.assumeBearer) return Either.left(invalid(status, "MissingTokenType", fieldDetail.MissingTokenType))
    tokenType = "Bearer"
  } else if (fields.token_type.toLowerCase() === "bearer") {
    tokenType = "Bearer"
  } else if (fields.token_type.toLowerCase() === "dpop" && options.dpop !== undefined) {
    // a DPoP token only in answer to a request that carried a proof (RFC 9449 §5)
    tokenType = "DPoP"
  } else {
    return Either.left(
      invalid(status, "UnsupportedTokenType", `token_type "${clip(scrub(fields.token_type), 32)}" is not supported`)
    )
  }
  if (tokenType === "Bearer" && options.dpop !== undefined && !options.dpop.allowBearer) {
    return Either.left(invalid(status, "DPoPDowngrade", fieldDetail.DPoPDowngrade))
  }
  const lifetime = fields.expires_in === undefined ? options.defaultExpiresInMillis : fields.expires_in * 1000
  return Either.right(AccessToken.make({
    value: Redacted.make(fields.access_token),
    tokenType,
    issuedAt: now,
    expiresAt: now + Math.floor(lifetime),
    scope: fields.scope === undefined ? params.scope : fields.scope.split(" ").filter((s) => s.length > 0)
  }))
}

/**
 * Classifies one complete answer of the token endpoint.
 *
 * @internal
 */
export const classify = (
  response: RawResponse,
  options: DecodeOptions,
  params: RequestedScope,
  now: number,
  scrub: Scrub,
  sentAt: number = now
): Either.Either<AccessToken.AccessToken, TokenError.TokenError> => {
  const status = response.status
  if (status >= 200 && status < 300) return decodeSuccess(response, options, params, sentAt, scrub)
  if (status === 429) {
    return Either.left(
      new TokenError.TokenRateLimited({
        retryAfter: parseRetryAfter(response.headers["retry-after"], now),
        attempts: 1
      })
    )
  }
  if (status >= 500) {
    return Either.left(
      new TokenError.TokenServerError({
        status,
        attempts: 1,
        retryAfter: status === 503 ? parseRetryAfter(response.headers["retry-after"], now) : undefined
      })
    )
  }
  if (status === 408) {
    return Either.left(
      new TokenError.TokenTransportError({
        reason: "Timeout",
        detail: "server answered 408 Request Timeout",
        attempts: 1
      })
    )
  }
  if (status >= 300 && status < 400) {
    return Either.left(invalid(status, "UnexpectedStatus", "the token endpoint redirected; redirects are not followed"))
  }
  if (status >= 400) {
    const rejection = Option.flatMap(parseBody(response), (body) => rejected(status, body, scrub))
    if (Option.isSome(rejection)) return Either.left(rejection.value)
    // 401 and 403 without an error body (Glewlwyd answers a wrong secret with an empty 403): the client was refused
    if (status === 401 || status === 403) {
      return Either.left(
        new TokenError.TokenRequestRejected({
          status,
          error: "invalid_client",
          errorDescription: `HTTP ${status} without an RFC 6749 error body`
        })
      )
    }
  }
  return Either.left(invalid(status, "UnexpectedStatus", `HTTP ${status} without an RFC 6749 error body`))
}
