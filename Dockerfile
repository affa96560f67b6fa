# kontext: one image for `kontext serve` (forward input :24224, HTTP :8080, web UI at /).
# The web UI is built in its own stage (Vite is a dev dependency); only ui/dist is copied.
FROM node:20-bookworm-slim AS ui
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY ui ./ui
RUN node node_modules/vite/bin/vite.js build ui

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# tfjs-node is optional: where its native build is available it is used, otherwise the wasm backend.
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY schema ./schema
COPY models ./models
COPY --from=ui /app/ui/dist ./ui/dist
COPY tsconfig.json ./
USER node
EXPOSE 24224 8080
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
ENTRYPOINT ["node", "bin/kontext.js"]
CMD ["serve"]
