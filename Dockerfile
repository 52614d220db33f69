# The PULSE service image: the current Node LTS (26) on Debian bookworm, the compiled service and the
# bundled model. The test command runs Node 20 and 22; Node 26 is checked only by building better-sqlite3
# for it (see docs/architecture.md, Runtime). Change both FROM lines together.
# Build: docker build -t pulse-for-orthanc .   (npm packages come from the npm registry only)
FROM node:26-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 may need a compiler when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc tsconfig.json ./
COPY src ./src
COPY bin ./bin
COPY bench ./bench
COPY test ./test
# npm ci runs `prepare`, which compiles the TypeScript into dist/.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:26-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY models ./models
RUN mkdir -p /var/lib/pulse && chown node:node /var/lib/pulse
USER node
# 0.0.0.0 so that a published port reaches the service: it then refuses to start without API tokens
# (PULSE_ADMIN_TOKENS_FILE / PULSE_VIEWER_TOKENS_FILE, as Docker secrets).
# glibc makes a malloc arena per thread (pipeline thread, onnxruntime's threads) and keeps what they
# freed: with 2 arenas a 20-study burst of 12 x 30 studies peaked lower (npm run bench, "memory").
ENV MALLOC_ARENA_MAX=2
ENV PULSE_DATA_DIR=/var/lib/pulse PULSE_HOST=0.0.0.0 PULSE_PORT=8088
EXPOSE 8088
VOLUME ["/var/lib/pulse"]
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:8088/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
ENTRYPOINT ["node", "bin/pulse.js"]
CMD ["serve"]
