import type * as TokenError from "../TokenError.js"

/** Node/OpenSSL verification codes: the server's certificate is not one we trust. */
const untrustedCodes = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_CHAIN_TOO_LONG",
  "INVALID_CA",
  "INVALID_PURPOSE",
  "PATH_LENGTH_EXCEEDED",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_TLS_CERT_ALTNAME_FORMAT"
])

/**
 * TLS alerts a server sends when it refuses the client's certificate (or wants one it did not get).
 * OpenSSL 3.2+ (Node 24) names them `SSL/TLS_ALERT_…` where older ones say `SSLV3_ALERT_…`. `HANDSHAKE_FAILURE` is what a TLS 1.2 server sends when a required client certificate is missing; a
 * cipher mismatch sends it too, which retrying does not fix either.
 */
const clientCertificateAlert =
  /^ERR_SSL_(?:SSLV3|SSL\/TLS|TLSV1|TLSV13)_ALERT_(?:BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED|ACCESS_DENIED|HANDSHAKE_FAILURE)$/

/** undici's tunnel failure: `Proxy response (407) !== 200 when HTTP Tunneling`. */
const proxy407 = /\bProxy response \(407\)/

/**
 * Classifies a transport failure that retrying cannot fix, from its cause chain (`.cause`, the `code`s
 * Node, OpenSSL and undici set, undici's proxy tunnel message); `undefined` for the retryable rest. The
 * detail names the cause by its code only: messages can quote hosts, headers or bodies.
 *
 * @internal
 */
export const classify = (
  cause: unknown
): { readonly reason: TokenError.TransportReason; readonly detail: string } | undefined => {
  let current = cause
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { readonly code?: unknown }).code
    if (typeof code === "string") {
      if (untrustedCodes.has(code)) {
        return { reason: "UntrustedCertificate", detail: `the server's TLS certificate is not trusted (${code})` }
      }
      if (clientCertificateAlert.test(code)) {
        return {
          reason: "ClientCertificate",
          detail: `the server refused the TLS client certificate, or wanted one (${code})`
        }
      }
    }
    const message = (current as { readonly message?: unknown }).message
    if (typeof message === "string" && proxy407.test(message)) {
      return { reason: "ProxyAuthentication", detail: "the proxy answered 407 Proxy Authentication Required" }
    }
    current = (current as { readonly cause?: unknown }).cause
  }
  return undefined
}
