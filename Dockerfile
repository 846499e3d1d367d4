# The one container image of every microbank service: build the esbuild bundles, ship only them.
# Build: docker build -t microbank:0.1.0 .   (the tag k8s/base/kustomization.yaml deploys)

# The official Node 24 LTS image; its "node" user (uid 1000) runs the services. No `# syntax=` line:
# it would make BuildKit fetch a frontend image, and an offline build would fail on it.
# Machines without a registry make a stand-in under this exact name: tools/containers/offline-base-images.sh.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS build
# pnpm from npm, pinned: corepack's registry signature check is unreliable.
RUN npm i -g pnpm@10.34.9
WORKDIR /src
# pnpm fetch needs only the lockfile, so this layer is rebuilt only when the lockfile changes.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch
COPY . .
RUN pnpm install --frozen-lockfile --offline && pnpm build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# The bundles are self-contained: esbuild inlined every npm dependency. That is why no node_modules
# is copied and there is nothing to prune to production dependencies: the image holds Node and the
# five bundles (ESM as .mjs, with their source maps).
COPY --from=build /src/packages/account-system/dist packages/account-system/dist
COPY --from=build /src/packages/balance/dist packages/balance/dist
COPY --from=build /src/packages/account/dist packages/account/dist
COPY --from=build /src/packages/transfer/dist packages/transfer/dist
COPY --from=build /src/packages/dashboard/dist packages/dashboard/dist
# Files stay owned by root and read-only for the service user; numeric, so runAsNonRoot can check it.
USER 1000:1000
EXPOSE 8080
# No shell wrapper (the base image's docker-entrypoint.sh): node itself is PID 1 and gets SIGTERM.
ENTRYPOINT []
CMD ["node", "packages/account-system/dist/main.mjs"]
