/**
 * `http://user:pw@host/`: the URL without its userinfo, and the `Authorization: Basic` header
 * curl sends for it (user and password percent-decoded, an absent password empty). The lab
 * prints, reports and streams only the URL without userinfo, so the credentials reach the
 * target and nothing else.
 */
export function splitUserinfo(url: URL): { url: URL; authorization: string | null } {
  if (url.username === '' && url.password === '') return { url, authorization: null };
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const basic = Buffer.from(`${decode(url.username)}:${decode(url.password)}`, 'utf8').toString('base64');
  const bare = new URL(url.href);
  bare.username = '';
  bare.password = '';
  return { url: bare, authorization: `Basic ${basic}` };
}

/** Headers with the userinfo's Authorization added, unless one was given (-H wins, as in curl). */
export function withAuthorization(
  headers: Array<[string, string]> | undefined,
  authorization: string | null,
): Array<[string, string]> | undefined {
  if (authorization === null) return headers;
  if (headers?.some(([n]) => n.toLowerCase() === 'authorization')) return headers;
  return [...(headers ?? []), ['authorization', authorization]];
}
