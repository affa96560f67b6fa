# kontext runtime image: `kontext serve` (forward input :24224, HTTP :8080, health :8081, web UI at /).
#   docker build -t kontext:0.1.0 .
# Stage 1 (build) installs every dependency, compiles src/ to dist/ (tsc), builds the web UI
# (Vite) and assembles the runtime package (scripts/pack.mjs: dist/ modules of serve, ingest, es
# and kibana only; no simulator, training, evaluation, benchmarks or recording).
# Stage 2 (deps) installs the runtime package's production dependencies only. Stage 3 (runtime) is node:24-slim with
# the runtime package, running as the unprivileged `node` user; nothing is written below /app, so
# the image runs on a read-only root filesystem (kontext writes nothing locally: state is in
# Elasticsearch).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY scripts ./scripts
COPY packages ./packages
COPY src ./src
COPY schema ./schema
COPY models ./models
COPY plugin/kibana ./plugin/kibana
COPY ui ./ui
RUN node node_modules/vite/bin/vite.js build ui \
 && node scripts/build.mjs --force \
 && node scripts/pack.mjs --out /out kontext

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# the runtime package's own dependencies (scripts/pack.mjs leaves out TensorFlow.js, which only
# training uses: the label stage runs its model in plain JavaScript), at the versions
# package-lock.json pins; test/ship-runtime.test.ts runs the runtime on exactly this install
COPY --from=build /out/kontext/package.json ./
COPY package-lock.json ./
RUN npm install --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /out/kontext ./
USER node
EXPOSE 24224 8080 8081
ENV KONTEXT_HEALTH_PORT=8081
# memory budget (src/pipeline/runtime-memory.ts says why; test/ship-runtime.test.ts keeps the two equal)
ENV NODE_OPTIONS="--max-old-space-size=768 --max-semi-space-size=8" MALLOC_ARENA_MAX=2
HEALTHCHECK --interval=30s --timeout=5s CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.KONTEXT_HEALTH_PORT||8081)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/kontext.js"]
CMD ["serve"]
