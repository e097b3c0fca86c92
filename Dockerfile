# Image of the m365-siem services (control-plane, ingest, normalize, index); docker-compose.yml picks the
# service with `node bin/m365-siem.js start <service>`. TypeScript runs through tsx, so there is no build step.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .
USER node
ENTRYPOINT []
CMD ["node", "bin/m365-siem.js", "--help"]
