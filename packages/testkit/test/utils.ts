import * as Effect from "effect/Effect"
import * as Net from "node:net"

export const formType = { "content-type": "application/x-www-form-urlencoded" } as const

/** RFC 6749 §2.3.1: form-encode id and secret, then base64. */
export const basic = (id: string, secret: string, encode = true): string => {
  const f = (s: string) => encode ? new URLSearchParams([["", s]]).toString().slice(1) : s
  return `Basic ${Buffer.from(`${f(id)}:${f(secret)}`, "utf8").toString("base64")}`
}

export const defaultBasic = basic("test-client", "test-secret")

export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: any
}

/** A fetch whose body is read in full; network failures are returned as `{ error }`. */
export const send = (
  url: string,
  init: RequestInit = {}
): Effect.Effect<
  Answer | { readonly error: string; readonly code: string | undefined; readonly cause: string | undefined }
> =>
  Effect.promise(async () => {
    try {
      const response = await fetch(url, init)
      const text = await response.text()
      let json: unknown = undefined
      try {
        json = JSON.parse(text)
      } catch {
        // not JSON
      }
      return { status: response.status, headers: response.headers, text, json }
    } catch (error: any) {
      return {
        error: String(error?.message),
        code: error?.cause?.code as string | undefined,
        cause: error?.cause?.message as string | undefined
      }
    }
  })

export const answer = (result: Answer | { readonly error: string }): Answer => {
  if ("error" in result) throw new Error(`expected an answer, got ${result.error}`)
  return result
}

export const requestToken = (
  tokenUrl: string,
  body = "grant_type=client_credentials",
  headers: Record<string, string> = { ...formType, authorization: defaultBasic }
) => Effect.map(send(tokenUrl, { method: "POST", headers, body }), answer)

/** What came back over a raw TCP connection after sending `request`. */
export interface Wire {
  readonly bytes: Buffer
  readonly ended: "end" | "error"
  readonly code: string | undefined
}

export const rawExchange = (port: number, request: string): Effect.Effect<Wire> =>
  Effect.async<Wire>((resume) => {
    const chunks: Array<Buffer> = []
    const socket = Net.connect(port, "127.0.0.1", () => socket.write(request))
    let done = false
    const finish = (ended: "end" | "error", code?: string) => {
      if (done) return
      done = true
      socket.destroy()
      resume(Effect.succeed({ bytes: Buffer.concat(chunks), ended, code }))
    }
    socket.on("data", (chunk) => chunks.push(chunk))
    socket.on("end", () => finish("end"))
    socket.on("error", (error: NodeJS.ErrnoException) => finish("error", error.code))
    socket.on("close", () => finish("end"))
    return Effect.sync(() => socket.destroy())
  })

export const rawTokenRequest = (port: number, body = "grant_type=client_credentials"): string =>
  [
    "POST /token HTTP/1.1",
    `Host: 127.0.0.1:${port}`,
    `Authorization: ${defaultBasic}`,
    "Content-Type: application/x-www-form-urlencoded",
    `Content-Length: ${Buffer.byteLength(body)}`,
    "Connection: close",
    "",
    body
  ].join("\r\n")

export const portOf = (url: string): number => Number(new URL(url).port)
