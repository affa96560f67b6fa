# kontext: one image for `kontext serve` (forward input :24224, HTTP :8080).
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
COPY tsconfig.json ./
USER node
EXPOSE 24224 8080
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
ENTRYPOINT ["node", "bin/kontext.js"]
CMD ["serve"]
