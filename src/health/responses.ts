/**
 * @module
 * Responses shared by our HTTP servers, shaped like Go's net/http ones so probes see the same bytes.
 */
import type { ServerResponse } from 'node:http';

/** Go's http.NotFound: 404, `404 page not found\n`. */
export function sendNotFound(res: ServerResponse): void {
  sendText(res, 404, '404 page not found\n');
}

/** A plain-text response with the headers component-base sets. */
export function sendText(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(body);
}
