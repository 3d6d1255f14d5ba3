# Concert-booking node image: the same image runs a gateway node (SERVICES=api,auth) or a worker.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json moleculer.config.ts ./
COPY types ./types
COPY lib ./lib
COPY modules ./modules
COPY mixins ./mixins
COPY services ./services
COPY migrations ./migrations
COPY scripts ./scripts
COPY bench ./bench
# The pages (web/build.mjs bundles them into dist/public during npm run build).
COPY web ./web
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000 3030
# The heap limits of scripts/start.sh (scripts/node-memory-flags: RSS near 200-220 MB under load).
ENV NODE_OPTIONS="--max-old-space-size=192 --max-semi-space-size=16"
# Migrations run at start (advisory-locked, so several nodes may start together).
CMD ["sh", "-c", "if [ -z \"$SERVICES\" ] || [ \"$SERVICES\" = all ]; then unset SERVICES; exec node_modules/.bin/moleculer-runner --config dist/moleculer.config.js dist/services; else SERVICEDIR=dist/services exec node_modules/.bin/moleculer-runner --config dist/moleculer.config.js; fi"]
