/**
 * @since 0.1.0
 */
export * as AccessToken from "./AccessToken.js"

/**
 * @since 0.1.0
 */
export * as AuthorizedHttpClient from "./AuthorizedHttpClient.js"

/**
 * @since 0.1.0
 */
export * as ClientAssertion from "./ClientAssertion.js"

/**
 * @since 0.1.0
 */
export * as ClientCredentials from "./ClientCredentials.js"

/**
 * @since 0.1.0
 */
export * as Discovery from "./Discovery.js"

/**
 * @since 0.1.0
 */
export * as TokenError from "./TokenError.js"

/**
 * @since 0.1.0
 */
export * as TokenProvider from "./TokenProvider.js"

/**
 * @since 0.1.0
 */
export * as TokenStore from "./TokenStore.js"

/**
 * @since 0.2.0
 */
export * as DPoP from "./DPoP.js"

/**
 * @since 0.2.0
 */
export * as TokenExchange from "./TokenExchange.js"
