// oidc-provider ships no type declarations; the harness uses a small, loosely typed part of it.
declare module "oidc-provider" {
  const Provider: any
  export default Provider
  export const errors: any
}
