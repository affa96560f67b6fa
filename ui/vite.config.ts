// Builds the web UI (ui/src) into ui/dist, which kontext serves at `/` (src/http/ui.ts).
// `npx vite ui` serves it with hot reload, sending /graphql to KONTEXT_URL (default :8080).
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 300, modulePreload: { polyfill: false } },
  server: { host: '127.0.0.1', proxy: { '/graphql': process.env.KONTEXT_URL ?? 'http://127.0.0.1:8080' } },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
});
