import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configSchemaKeys, loadConfig, SETTINGS } from "./config.js";
import { SkalaError } from "./errors.js";

function problems(fn: () => unknown): Array<{ path: string; message: string }> {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SkalaError);
    expect((error as SkalaError).code).toBe("CONFIG_INVALID");
    return (error as SkalaError).details?.issues as Array<{ path: string; message: string }>;
  }
  throw new Error("expected CONFIG_INVALID");
}

describe("loadConfig", () => {
  const cwd = mkdtempSync(join(tmpdir(), "skala-config-"));

  it("uses defaults and resolves paths under the data directory", () => {
    const config = loadConfig({ cwd, env: {} });
    expect(config.server.port).toBe(7070);
    expect(config.resolved.dataDir).toBe(join(cwd, ".skala"));
    expect(config.resolved.databaseUrl).toBe(`sqlite:${join(cwd, ".skala", "skala.db")}`);
    expect(config.resolved.artifactsDir).toBe(join(cwd, ".skala", "artifacts"));
  });

  it("layers flags over environment over file over defaults", () => {
    const file = join(cwd, "layered.json");
    writeFileSync(file, JSON.stringify({ server: { port: 1000, host: "0.0.0.0" }, log: { level: "debug" } }));
    const config = loadConfig({
      cwd,
      configFile: file,
      env: { SKALA_PORT: "2000", SKALA_LOG_LEVEL: "warn" },
      flags: { "server.port": "3000" },
    });
    expect(config.server.port).toBe(3000);
    expect(config.log.level).toBe("warn");
    expect(config.server.host).toBe("0.0.0.0");
  });

  it("is frozen", () => {
    const config = loadConfig({ cwd, env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.server)).toBe(true);
  });

  it("reports every problem of every layer at once, naming where each came from", () => {
    const file = join(cwd, "bad.json");
    writeFileSync(file, JSON.stringify({ server: { port: "x", extra: 1 }, unknown: true }));
    const issues = problems(() =>
      loadConfig({
        cwd,
        configFile: file,
        env: { SKALA_PORT: "99999", SKALA_NOPE: "1" },
        flags: { "log.level": "loud" },
      }),
    );
    const paths = issues.map((i) => i.path).join("\n");
    expect(paths).toContain("env SKALA_NOPE");
    expect(paths).toContain("env SKALA_PORT");
    expect(paths).toContain("flag --log-level");
    expect(paths).toContain(`${file}/server/port`);
    expect(issues.length).toBeGreaterThanOrEqual(5);
  });

  it("rejects a config file that is not JSON, or is missing when named", () => {
    const file = join(cwd, "broken.json");
    writeFileSync(file, "{ port: ");
    expect(problems(() => loadConfig({ cwd, configFile: file, env: {} }))[0]?.message).toMatch(
      /not valid JSON/,
    );
    expect(
      problems(() => loadConfig({ cwd, configFile: join(cwd, "absent.json"), env: {} }))[0]?.message,
    ).toMatch(/does not exist/);
  });

  it("never quotes a config file's content in its errors", () => {
    const file = join(cwd, "secret.json");
    writeFileSync(file, "root:x:0:0:root:/root:/bin/bash\n");
    const [issue] = problems(() => loadConfig({ cwd, configFile: file, env: {} }));
    expect(issue?.message).toBe("is not valid JSON");
    writeFileSync(file, '{\n  "server": { "port": 1, }\n}');
    expect(problems(() => loadConfig({ cwd, configFile: file, env: {} }))[0]?.message).toBe(
      "is not valid JSON at line 2, column 26",
    );
  });

  it("reports a config path that cannot be read instead of throwing", () => {
    expect(problems(() => loadConfig({ cwd, configFile: cwd, env: {} }))[0]?.message).toBe(
      "cannot be read (EISDIR)",
    );
  });

  it("passes over the client's SKALA_SERVER, which is no server setting", () => {
    expect(loadConfig({ cwd, env: { SKALA_SERVER: "http://10.0.0.2:7070" } }).server.port).toBe(7070);
  });

  it("takes the log format from json, pretty or auto", () => {
    expect(loadConfig({ cwd, env: {} }).log.format).toBe("auto");
    expect(loadConfig({ cwd, env: { SKALA_LOG_FORMAT: "json" } }).log.format).toBe("json");
    expect(problems(() => loadConfig({ cwd, flags: { "log.format": "xml" } }))[0]?.path).toBe(
      "flag --log-format",
    );
  });

  it("rejects an unsupported database URL", () => {
    expect(problems(() => loadConfig({ cwd, env: { SKALA_DATABASE_URL: "mysql://x" } }))[0]?.path).toBe(
      "env SKALA_DATABASE_URL",
    );
  });

  it("has a documented setting for every key of the config schema, and a schema key for every setting", () => {
    const doc = readFileSync(new URL("../../docs/reference/config.md", import.meta.url), "utf8");
    const keys = configSchemaKeys();
    expect(keys).toContain("gc.graceSeconds");
    expect(keys.length).toBeGreaterThan(20);
    for (const key of keys) {
      expect(doc, key).toContain(`| \`${key}\``);
      expect(SETTINGS.map((s) => s.key)).toContain(key);
    }
    expect([...SETTINGS.map((s) => s.key)].sort()).toEqual([...keys].sort());
  });

  it("documents every setting in docs/reference/config.md", () => {
    const doc = readFileSync(new URL("../../docs/reference/config.md", import.meta.url), "utf8");
    for (const setting of SETTINGS) {
      expect(doc).toContain(`\`${setting.key}\``);
      expect(doc).toContain(`\`${setting.env}\``);
      expect(doc).toContain(`\`${setting.flag}\``);
    }
  });
});
