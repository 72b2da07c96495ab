/**
 * The HTTP ceiling of `npm run bench:serve`: a bare Fastify app in its own process whose POST routes parse the
 * JSON body (Fastify's default parser, as the inference server does) and answer a fixed JSON response, the one
 * the real server gave for the same request. Whatever the inference server costs beyond this is its own.
 *
 * Reads `{ "<path>": <response>, … }` from argv, listens on a free loopback port and prints
 * `listening <url>` on stdout.
 */
import Fastify from "fastify";

const routes = JSON.parse(process.argv[2] ?? "{}") as Record<string, unknown>;
if (Object.keys(routes).length === 0) {
  process.stderr.write("usage: serve-ceiling '{\"/ceiling\": {…response…}}'\n");
  process.exit(2);
}

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
for (const [path, response] of Object.entries(routes)) {
  app.post(path, async (request) => {
    // Touch the parsed body as a handler would, so the parse cannot be skipped.
    if (typeof request.body !== "object" || request.body === null) throw new Error("no JSON body");
    return response;
  });
}
const url = await app.listen({ host: "127.0.0.1", port: 0 });
process.stdout.write(`listening ${url}\n`);

const stop = () => {
  void app.close().then(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
