/**
 * The web UI: static assets built from ui/ (Vite) into ui/dist, served at `/`. Client routes
 * (/contexts, /timeline, /context/<id>, /event/<auditID>) answer the same index.html; the page
 * holds no data and reads everything through /graphql with the user's bearer token.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type Request, type Response, type NextFunction } from 'express';

export const UI_DIST = fileURLToPath(new URL('../../ui/dist', import.meta.url));
/** first path segments the UI routes on the client */
export const UI_ROUTES = ['contexts', 'timeline', 'context', 'event'];

const CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "font-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

function headers(res: Response): void {
  res.set({ 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' });
}

function isClientRoute(p: string): boolean {
  if (p === '/' || p === '/index.html') return true;
  const seg = p.split('/')[1] ?? '';
  return UI_ROUTES.includes(seg);
}

/** Mounts the UI on `app` (call after the API routes, before the 404 handler). */
export function mountUi(app: Express, dist = UI_DIST): void {
  const index = path.join(dist, 'index.html');
  app.use('/assets', (_req: Request, res: Response, next: NextFunction) => { headers(res); next(); },
    express.static(path.join(dist, 'assets'), { index: false, immutable: true, maxAge: '365d', fallthrough: true }));
  app.use((req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !isClientRoute(req.path)) { next(); return; }
    if (!existsSync(index)) {
      res.status(503).type('text/plain').send('the web UI is not built: run `npm run build:ui` (npm start and npm test build it)\n');
      return;
    }
    headers(res);
    res.set('cache-control', 'no-cache');
    res.sendFile(index);
  });
}
