/** The client the bench server registers. @internal */
export const clientId = "bench-client"
/** @internal */
export const clientSecret = "bench-secret"
/** A token the resource always accepts: the static-header baselines send it. @internal */
export const staticToken = "static-bench-token"
