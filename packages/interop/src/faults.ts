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
  return {
    journal: {
      tokenRequests: () => requests,
      grants: (clientId?: string) =>
        clientId === undefined ? granted.length : granted.filter((c) => c === clientId).length,
      inject: (faults: ReadonlyArray<Fault>) => void queue.push(...faults)
    } satisfies Journal,
    /** Called per token request: the fault to answer with, if any. */
    arrived: (): Fault | undefined => {
      requests++
      return queue.shift()
    },
    granted: (clientId: string) => void granted.push(clientId)
  }
}
