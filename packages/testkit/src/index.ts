/**
 * @since 0.1.0
 */
export * as FakeAuthServer from "./FakeAuthServer.js"

/**
 * @since 0.1.0
 */
export * as FakeResponse from "./FakeResponse.js"

/**
 * @since 0.1.0
 */
export * as TestTokenProvider from "./TestTokenProvider.js"

/**
 * @since 0.2.0
 */
export * as DPoPVerifier from "./DPoPVerifier.js"
