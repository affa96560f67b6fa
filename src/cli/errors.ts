/**
 * Operational failures as one line a person can act on: the CLI prints `kontext <cmd>: <line>`
 * and exits 1 (KONTEXT_DEBUG=1 adds the stack). Known causes (a port in use, Elasticsearch
 * unreachable or refusing the credentials, a missing file) are explained with what to do.
 */
export class OperationalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) { super(message, options); this.name = 'OperationalError'; }
}

interface SysError extends Error { code?: string; syscall?: string; address?: string; port?: number; path?: string }

const firstLine = (s: string): string => s.split('\n').find((l) => l.trim())?.trim() ?? s;

export function operationalMessage(e: unknown): string {
  if (!(e instanceof Error)) return firstLine(String(e));
  if (e instanceof OperationalError) return firstLine(e.message);
  const s = e as SysError;
  if (s.code === 'EADDRINUSE') {
    return `cannot listen on ${s.address ?? ''}:${s.port ?? '?'}: the port is already in use (another kontext running?); ` +
      'choose another with --http-port, --forward-port or --health-port (0 picks a free one)';
  }
  if (s.code === 'EACCES' && s.syscall === 'listen') {
    return `cannot listen on ${s.address ?? ''}:${s.port ?? '?'}: permission denied (ports below 1024 need privileges); choose a port >= 1024`;
  }
  if (s.code === 'EADDRNOTAVAIL' && s.syscall === 'listen') {
    return `cannot listen on ${s.address ?? ''}:${s.port ?? '?'}: the address is not on this machine; check --http-host / --forward-host`;
  }
  if (s.code === 'ENOENT' && s.path) return `no such file or directory: ${s.path}`;
  if (s.code === 'EACCES' && s.path) return `permission denied: ${s.path}`;
  return firstLine(e.message);
}
