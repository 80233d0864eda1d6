// A Host header (or a name configured for one) read as the URL parser reads it, for the rules that
// compare it: whether a browser's Origin is this service's own (plugins/cross-origin.ts), and
// whether the name is one the service answers to (plugins/allowed-hosts.ts).

/**
 * `host` as {host[:port], hostname}, lowercased, with the scheme's default port dropped ("a:443"
 * under https is "a"); undefined when it is not a bare host[:port]: the URL parser reads
 * "a/x@b" as host "a", which no Host header may pass for.
 */
export function parseHost(host: string, protocol = 'http:'): { host: string; hostname: string } | undefined {
  try {
    const h = host.toLowerCase();
    const u = new URL(`${protocol}//${h}`);
    const asSent = u.host === h || `${u.host}:${protocol === 'https:' ? 443 : 80}` === h;
    return asSent ? { host: u.host, hostname: u.hostname } : undefined;
  } catch {
    return undefined;
  }
}
