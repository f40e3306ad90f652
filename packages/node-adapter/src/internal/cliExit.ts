import type * as TokenError from "@oauth-cc/core/TokenError"
import * as Data from "effect/Data"

/**
 * The exit codes of `oauth-cc`, one meaning each, documented in the README. The CLI owns this table: core's
 * `TokenError.exitCode` is not used (it gave 8 to a failed discovery, which the CLI also used for a resource
 * request without an answer).
 *
 * @internal
 */
export const ExitCode = {
  Ok: 0,
  Unexpected: 1,
  Usage: 2,
  TokenRejected: 3,
  TokenRateLimited: 4,
  TokenServerError: 5,
  TokenTransport: 6,
  TokenInvalidResponse: 7,
  DiscoveryFailed: 8,
  HttpError: 9,
  RequestFailed: 10,
  InsecureHttp: 11,
  CredentialUnavailable: 12,
  TimedOut: 124,
  Interrupted: 130
} as const

/** @internal */
export const exitCodeOfTokenError = (error: TokenError.TokenError): number => {
  switch (error._tag) {
    case "TokenRequestRejected":
      return ExitCode.TokenRejected
    case "TokenRateLimited":
      return ExitCode.TokenRateLimited
    case "TokenServerError":
      return ExitCode.TokenServerError
    case "TokenTransportError":
      return ExitCode.TokenTransport
    case "TokenResponseInvalid":
      return ExitCode.TokenInvalidResponse
    case "TokenDiscoveryFailed":
      return ExitCode.DiscoveryFailed
    case "TokenCredentialUnavailable":
      return ExitCode.CredentialUnavailable
  }
}

/** A usage or configuration error: one line, exit code 2. @internal */
export class CliError extends Data.TaggedError("CliError")<{ readonly detail: string }> {
  override get message() {
    return this.detail
  }
}

/** The resource request got no answer. @internal */
export class RequestFailed extends Data.TaggedError("RequestFailed")<{ readonly detail: string }> {
  override get message() {
    return this.detail
  }
}

/** `--fail` and the resource answered ≥ 400. @internal */
export class HttpStatusError extends Data.TaggedError("HttpStatusError")<{ readonly status: number }> {
  override get message() {
    return `the server answered HTTP ${this.status}`
  }
}

/** `oauth-cc doctor` found a problem: it printed its findings; the code is the first failed check's. @internal */
export class DoctorFailed extends Data.TaggedError("DoctorFailed")<{ readonly code: number }> {
  override get message() {
    return "doctor found a problem"
  }
}

/** `--timeout` elapsed before the command finished. @internal */
export class TimedOut extends Data.TaggedError("TimedOut")<{ readonly millis: number }> {
  override get message() {
    return `timed out after ${this.millis} ms (--timeout)`
  }
}

/** A bearer token would go in clear to a non-loopback `http:` URL. @internal */
export class InsecureHttp extends Data.TaggedError("InsecureHttp")<{ readonly origin: string }> {
  override get message() {
    return `refusing to send a bearer token in clear to ${this.origin} (RFC 6750 §5.3): use https:, or --allow-insecure-http`
  }
}
