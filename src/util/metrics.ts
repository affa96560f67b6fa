/**
 * Process-wide metrics in Prometheus text format (served at /metrics). Counters and gauges
 * with optional labels; no dependencies.
 */
type Labels = Record<string, string>;

interface Series { help: string; type: 'counter' | 'gauge'; values: Map<string, number> }
const registry = new Map<string, Series>();

function key(labels?: Labels): string {
  if (!labels) return '';
  const parts = Object.keys(labels).sort().map((k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function series(name: string, help: string, type: 'counter' | 'gauge'): Series {
  let s = registry.get(name);
  if (!s) { s = { help, type, values: new Map() }; registry.set(name, s); }
  return s;
}

export interface Counter { inc(labels?: Labels, n?: number): void; get(labels?: Labels): number }
export interface Gauge { set(v: number, labels?: Labels): void; inc(labels?: Labels, n?: number): void; get(labels?: Labels): number }

export function counter(name: string, help: string): Counter {
  const s = series(name, help, 'counter');
  return {
    inc(labels, n = 1) { const k = key(labels); s.values.set(k, (s.values.get(k) ?? 0) + n); },
    get(labels) { return s.values.get(key(labels)) ?? 0; },
  };
}

export function gauge(name: string, help: string): Gauge {
  const s = series(name, help, 'gauge');
  return {
    set(v, labels) { s.values.set(key(labels), v); },
    inc(labels, n = 1) { const k = key(labels); s.values.set(k, (s.values.get(k) ?? 0) + n); },
    get(labels) { return s.values.get(key(labels)) ?? 0; },
  };
}

export function renderMetrics(): string {
  const out: string[] = [];
  for (const [name, s] of registry) {
    out.push(`# HELP ${name} ${s.help}`, `# TYPE ${name} ${s.type}`);
    if (s.values.size === 0) out.push(`${name} 0`);
    for (const [k, v] of s.values) out.push(`${name}${k} ${v}`);
  }
  return out.join('\n') + '\n';
}
