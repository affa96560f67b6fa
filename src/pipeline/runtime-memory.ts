/**
 * How the kontext process is told its memory budget (the image's environment, `Dockerfile`;
 * the benchmarks run their measured children with the same, so they measure what ships).
 *
 * - `--max-old-space-size=768`: V8 grows its old generation to a multiple of what survived the
 *   last full collection, and the multiple depends on the heap limit: up to 4× when the limit
 *   is 2 GB or more (the default on a machine with 16 GB or more and no cgroup limit), 1.3–2×
 *   below. kontext's own data is small (at the peak of a 1-hour backlog, about 180 MB live after
 *   a full collection: normalize's reorder buffer, open and retained contexts, dedupe), so at 4×
 *   most of its RSS was garbage waiting for a collection. 768 MiB still holds a full
 *   `max-buffer` (256 MB of JSON) beside the rest, inside the Helm chart's 2 GiB limit.
 * - `--max-semi-space-size=8`: the young generation's two semi-spaces at 8 MiB instead of up to
 *   16–32 MiB each: what kontext allocates per event dies young, what lives (held events,
 *   contexts) lives for seconds to minutes either way.
 * - `MALLOC_ARENA_MAX=2`: glibc gives every thread (libuv's pool inflates gzip chunks, the model
 *   worker) its own malloc arena, and freed arena memory is rarely returned; two arenas keep that
 *   fragmentation bounded.
 */
export const RUNTIME_MEMORY_ENV: Readonly<Record<string, string>> = {
  NODE_OPTIONS: '--max-old-space-size=768 --max-semi-space-size=8',
  MALLOC_ARENA_MAX: '2',
};

/** `env` with the runtime memory settings; NODE_OPTIONS already set are kept, after ours */
export function withRuntimeMemory(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const own = env.NODE_OPTIONS?.trim();
  return { ...env, ...RUNTIME_MEMORY_ENV, NODE_OPTIONS: own ? `${RUNTIME_MEMORY_ENV.NODE_OPTIONS} ${own}` : RUNTIME_MEMORY_ENV.NODE_OPTIONS! };
}
