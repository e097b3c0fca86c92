# syntax=docker/dockerfile:1
# Images of the m365-siem services. The default target is the production image: compiled JavaScript in dist/ and the
# production dependencies only — no TypeScript sources, tests, benchmarks or simulator. `--target demo` builds the
# whole-pipeline demo on the simulator instead (`npm start` in a container).
# The build context is an allowlist (.dockerignore); tests/build/image-context.test.ts checks what each stage holds.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin/ bin/
COPY runtime/ runtime/
COPY ingest/ ingest/
COPY normalize/ normalize/
COPY index/ index/
COPY control-plane/ control-plane/
COPY schemas/ schemas/
COPY cli/ cli/
COPY stack/ stack/
COPY simulator/ simulator/
RUN npm run build

FROM node:24-bookworm-slim AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# The demo: every dependency and the simulator, run as `npm start` would (needs Java for the local stack, or
# KAFKA_BROKERS and OPENSEARCH_URL pointing at services).
FROM build AS demo
ENV NODE_ENV=development
USER node
CMD ["node", "dist/cli/main.js", "start"]

FROM node:24-bookworm-slim AS production
WORKDIR /app
ENV NODE_ENV=production
COPY --from=production-dependencies /app/node_modules/ node_modules/
COPY package.json ./
COPY --from=build /src/dist/runtime/ dist/runtime/
COPY --from=build /src/dist/ingest/ dist/ingest/
COPY --from=build /src/dist/normalize/ dist/normalize/
COPY --from=build /src/dist/index/ dist/index/
COPY --from=build /src/dist/control-plane/ dist/control-plane/
COPY --from=build /src/dist/schemas/ dist/schemas/
COPY --from=build /src/dist/cli/ dist/cli/
COPY --from=build /src/dist/stack/ dist/stack/
USER node
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["--help"]
