import * as ClientCredentials from "@oauth-cc/core/ClientCredentials"
import * as Effect from "effect/Effect"
import * as tls from "node:tls"
import { isLoopbackHost } from "./nodeTransport.js"

/** The proxy settings as undici's `EnvHttpProxyAgent` gets them. @internal */
export interface ProxySettings {
  readonly httpProxy: string | undefined
  readonly httpsProxy: string | undefined
  readonly noProxy: string | undefined
}

const defaultPorts: Record<string, number> = { "http:": 80, "https:": 443 }

const origin = (proxy: string) => {
  try {
    const url = new URL(proxy)
    return `${url.protocol}//${url.host}${url.username === "" ? "" : " (with credentials)"}`
  } catch {
    return "(an invalid proxy URL)"
  }
}

/**
 * Whether a request to `url` goes through a proxy, by the transport's rules: loopback hosts (`localhost`,
 * `127.0.0.0/8`, `[::1]`) always direct; otherwise undici's `EnvHttpProxyAgent`'s: `NO_PROXY` entries split on
 * commas and spaces, `*` for all, `host` or `.host` matching the host and its subdomains, `host:port` only that
 * port. Proxy credentials are never shown.
 *
 * @internal
 */
export const proxyDecision = (url: URL, proxy: ProxySettings): string => {
  if (isLoopbackHost(url.hostname)) return "direct (loopback: never sent through a proxy)"
  const proxyUrl = url.protocol === "https:" ? proxy.httpsProxy : proxy.httpProxy
  if (proxyUrl === undefined || proxyUrl === "") {
    return `direct (no ${url.protocol === "https:" ? "HTTPS_PROXY" : "HTTP_PROXY"} set)`
  }
  const noProxy = (proxy.noProxy ?? "").trim()
  const port = Number.parseInt(url.port, 10) || defaultPorts[url.protocol] || 0
  const hostname = url.hostname.toLowerCase()
  if (noProxy === "*") return "direct (NO_PROXY=*)"
  for (const entry of noProxy.split(/[,\s]/)) {
    if (entry === "") continue
    const parsed = /^(.+):(\d+)$/.exec(entry)
    const host = (parsed ? parsed[1]! : entry).replace(/^\*?\./, "").toLowerCase()
    const entryPort = parsed ? Number.parseInt(parsed[2]!, 10) : 0
    if (entryPort !== 0 && entryPort !== port) continue
    if (hostname === host || hostname.endsWith(`.${host}`)) return `direct (NO_PROXY entry "${entry}")`
  }
  return `via ${origin(proxyUrl)}`
}

/** @internal */
export interface TlsReport {
  readonly ok: boolean
  readonly detail: string
}

/**
 * Opens a TLS connection to `url` (with `ca` instead of Node's CAs when given) and reports whether the chain
 * is trusted for the host name, and the leaf certificate's subject, issuer and expiry. Nothing is sent.
 *
 * @internal
 */
export const tlsCheck = (
  url: URL,
  ca: string | Buffer | ReadonlyArray<string | Buffer> | undefined,
  timeoutMillis = 5000
): Effect.Effect<TlsReport> =>
  Effect.async<TlsReport>((resume) => {
    const port = Number.parseInt(url.port, 10) || 443
    const host = url.hostname.replace(/^\[|\]$/g, "")
    const socket = tls.connect({
      host,
      port,
      ...(/^[\d.:]+$/.test(host) ? {} : { servername: host }),
      ...(ca === undefined ? {} : { ca: typeof ca === "string" || Buffer.isBuffer(ca) ? ca : [...ca] }),
      rejectUnauthorized: false
    })
    const done = (report: TlsReport) => {
      clearTimeout(timer)
      socket.destroy()
      resume(Effect.succeed(report))
    }
    const timer = setTimeout(
      () => done({ ok: false, detail: `no TLS handshake within ${timeoutMillis} ms` }),
      timeoutMillis
    )
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate()
      const name = (field: unknown) => {
        const cn = (field as { CN?: unknown } | undefined)?.CN
        return Array.isArray(cn) ? cn.join(",") : String(cn ?? "?")
      }
      const leaf = cert && "subject" in cert
        ? `CN=${name(cert.subject)}, issued by CN=${name(cert.issuer)}, valid until ${cert.valid_to}`
        : "no certificate"
      const identity = socket.authorized ? tls.checkServerIdentity(host, cert) : undefined
      if (!socket.authorized) {
        done({ ok: false, detail: `not trusted: ${String(socket.authorizationError)} (${leaf})` })
      } else if (identity !== undefined) {
        done({ ok: false, detail: `trusted chain, wrong host: ${identity.message} (${leaf})` })
      } else {
        done({ ok: true, detail: `trusted (${leaf}, ${socket.getProtocol()})` })
      }
    })
    socket.once("error", (error: NodeJS.ErrnoException) =>
      done({ ok: false, detail: `no TLS connection: ${error.code ?? error.message}` }))
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.destroy()
    })
  })

/**
 * A URL as doctor prints it (core's `url.full` rule): no credentials or fragment, and each query parameter
 * keeps its name while its value becomes `REDACTED` (a query may carry a signature or a key). Text that is
 * not a URL is not printed.
 *
 * @internal
 */
export const shownUrl = (url: URL | string): string => {
  try {
    return ClientCredentials.redactUrl(new URL(String(url)))
  } catch {
    return "(not a valid URL)"
  }
}
