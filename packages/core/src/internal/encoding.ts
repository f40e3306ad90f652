/**
 * RFC 6749 §2.3.1 / Appendix B: id and secret are form-urlencoded before they are joined for Basic.
 *
 * @internal
 */
export const formEncode = (value: string): string => new URLSearchParams([["", value]]).toString().slice(1)

/** Base64 of the UTF-8 bytes of `text`, with the Web platform's `btoa` (which takes one byte per char). @internal */
export const base64Utf8 = (text: string): string => {
  let binary = ""
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte)
  return btoa(binary)
}
