import http from 'node:http';
import https from 'node:https';

/**
 * GETs `url` over a connection of its own that closes after the answer, and parses the JSON body.
 * No pool: a server's ledger read this way counts exactly one connection per read, however long
 * ago the previous read was (a pooled client reused its connection only while the server kept it).
 */
export function getJsonOnce<T>(url: string, options: https.RequestOptions = {}): Promise<T> {
  const get = url.startsWith('https:') ? https.get : http.get;
  return new Promise((resolve, reject) => {
    get(url, { ...options, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve(JSON.parse(body) as T));
    }).on('error', reject);
  });
}
