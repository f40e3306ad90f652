/**
 * Faults injected in front of a real authorization server: the next token requests get these answers
 * instead of reaching the server.
 *
 * @since 0.0.0
 */

/**
 * @since 0.0.0
 * @category models
 */
export interface Fault {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly body?: unknown
}

/**
 * A queue of faults plus a journal of what reached the token endpoint.
 *
 * @since 0.0.0
 * @category models
 */
export interface Journal {
  /** Token requests that arrived (faulted or not). */
  readonly tokenRequests: () => number
  /** Where the last token request carried its client authentication: an HTTP Basic header, or the form. */
  readonly lastCredentials: () => "basic" | "form" | undefined
  /** Grants the server itself reported (its own event or model hook), by client id. */
  readonly grants: (clientId?: string) => number
  /** The next token requests are answered with these faults, in order. */
  readonly inject: (faults: ReadonlyArray<Fault>) => void
}

/** @internal */
export const makeJournal = () => {
  const queue: Array<Fault> = []
  const granted: Array<string> = []
  let requests = 0
  let credentials: "basic" | "form" | undefined
  return {
    journal: {
      tokenRequests: () => requests,
      lastCredentials: () => credentials,
      grants: (clientId?: string) =>
        clientId === undefined ? granted.length : granted.filter((c) => c === clientId).length,
      inject: (faults: ReadonlyArray<Fault>) => void queue.push(...faults)
    } satisfies Journal,
    /** Called per token request with its Authorization header: the fault to answer with, if any. */
    arrived: (authorization: string | undefined): Fault | undefined => {
      requests++
      credentials = authorization?.startsWith("Basic ") ? "basic" : "form"
      return queue.shift()
    },
    granted: (clientId: string) => void granted.push(clientId)
  }
}
