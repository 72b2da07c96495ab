import { writeFileSync } from "node:fs";
import { it } from "vitest";
import { testApp } from "./test-support/test-app.js";

it("scratch", async () => {
  const { app, close } = await testApp({ inference: true });
  await app.ready();
  writeFileSync("/tmp/scratch/openapi.json", JSON.stringify(app.swagger(), null, 2));
  await close();
});
