/** Case-insensitive comparison of header names without allocating (no `toLowerCase()` copy). */

/** `s === lower` ignoring ASCII case; `lower` must be lower-case. */
export function equalsLower(s: string, lower: string): boolean {
  if (s.length !== lower.length) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== lower.charCodeAt(i)) return false;
  }
  return true;
}
