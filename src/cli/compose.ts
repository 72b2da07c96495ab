import { createFsBlobStore } from "../artifacts/index.js";
import { type SkalaConfig, systemClock } from "../core/index.js";
import { buildApp, type SkalaApp } from "../http/index.js";
import { createRegistry, DEFAULT_PROJECT, type Registry } from "../registry/index.js";
import { migrateToLatest, openStore, type Store } from "../store/index.js";

export interface Services {
  store: Store;
  registry: Registry;
  close(): Promise<void>;
}

/** The composition root: the only place that picks adapters (SQLite or PostgreSQL, file-system blobs). */
export async function openServices(
  config: SkalaConfig,
  options: { migrate?: boolean } = {},
): Promise<Services> {
  const store = openStore(config.resolved.databaseUrl);
  try {
    if (options.migrate !== false) await migrateToLatest(store);
    const blobs = createFsBlobStore(config.resolved.artifactsDir);
    const registry = createRegistry({
      store,
      blobs,
      clock: systemClock,
      limits: {
        bulkMaxVersions: config.registry.bulkMaxVersions,
        pageSizeMax: config.registry.pageSizeMax,
        artifactMaxBytes: config.artifacts.maxBytes,
      },
    });
    if (options.migrate !== false) await registry.projects.ensure(DEFAULT_PROJECT, "Created at first start.");
    return { store, registry, close: () => store.close() };
  } catch (error) {
    await store.close();
    throw error;
  }
}

export async function startServer(
  config: SkalaConfig,
): Promise<{ app: SkalaApp; url: string; services: Services }> {
  const services = await openServices(config);
  const app = await buildApp({
    store: services.store,
    registry: services.registry,
    bodyLimitBytes: config.server.bodyLimitBytes,
    logger: config.log.level === "silent" ? false : { level: config.log.level },
  });
  app.addHook("onClose", async () => services.close());
  const address = await app.listen({ host: config.server.host, port: config.server.port });
  return { app, url: address, services };
}
