/**
 * @since 0.1.0
 */
export * as NodeAuthorizedHttpClient from "./NodeAuthorizedHttpClient.js"

/**
 * @since 0.1.0
 */
export * as NodeTokenProvider from "./NodeTokenProvider.js"

/**
 * @since 0.1.0
 */
export * as NodeTransport from "./NodeTransport.js"
