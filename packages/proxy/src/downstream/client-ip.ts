/** The client's IP from a socket's remote address (IPv4-mapped IPv6 shown as plain IPv4). */
export function clientIpOf(remoteAddress: string | undefined): string {
  const a = remoteAddress ?? '';
  return a.startsWith('::ffff:') && a.indexOf('.') > 0 ? a.slice(7) : a;
}
