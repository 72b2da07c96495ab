// The one test suite every ModelRuntime must pass; runtimes.test.ts runs it for each runtime.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isProtocolError, type ProtocolErrorCode, type Tensor } from "../protocol/index.js";
import { InvalidArtifactError, type LoadedModel, type ModelRuntime, type TensorMeta } from "./runtime.js";

export interface RuntimeContractCase {
  runtime: ModelRuntime;
  /** A valid artifact for the runtime and a key to load it under. */
  artifact: Uint8Array;
  key: string;
  /** Bytes the runtime must refuse to load. */
  brokenArtifact: Uint8Array;
  /** Fresh tensors on every call: a runtime may take ownership of what it is given. */
  validInputs(): Tensor[];
  /** Each a client mistake the runtime must answer with INFER_REQUEST_INVALID. */
  badInputs(): {
    unknownName: Tensor[];
    wrongDatatype: Tensor[];
    wrongShape: Tensor[];
    missing: Tensor[];
  };
  /** Releases what the case holds (closes the runtime). */
  cleanup(): Promise<void>;
}

async function codeOf(
  promise: Promise<unknown>,
): Promise<ProtocolErrorCode | "resolved" | "not a ProtocolError"> {
  try {
    await promise;
    return "resolved";
  } catch (error) {
    return isProtocolError(error) ? error.code : "not a ProtocolError";
  }
}

function shapeFits(shape: readonly number[], declared: readonly number[]): boolean {
  return shape.length === declared.length && declared.every((d, i) => d === -1 || d === shape[i]);
}

function expectDeclared(outputs: readonly Tensor[], declared: readonly TensorMeta[]): void {
  for (const output of outputs) {
    const spec = declared.find((d) => d.name === output.name);
    expect(spec, `output ${output.name} is declared`).toBeDefined();
    expect(output.datatype).toBe(spec?.datatype);
    expect(shapeFits(output.shape, spec?.shape ?? [])).toBe(true);
    expect(output.data.length).toBe(output.shape.reduce((a, b) => a * b, 1));
  }
}

export function describeRuntimeContract(label: string, makeCase: () => Promise<RuntimeContractCase>): void {
  describe(`ModelRuntime contract: ${label}`, () => {
    let c: RuntimeContractCase;
    let model: LoadedModel;

    beforeAll(async () => {
      c = await makeCase();
      model = await c.runtime.load(c.artifact, { key: c.key });
    });

    afterAll(async () => {
      await c?.cleanup();
    });

    it("reports metadata with named, typed inputs and outputs and a platform", () => {
      const meta = model.metadata();
      expect(meta.platform.length).toBeGreaterThan(0);
      expect(meta.inputs.length).toBeGreaterThan(0);
      expect(meta.outputs.length).toBeGreaterThan(0);
      for (const t of [...meta.inputs, ...meta.outputs]) {
        expect(t.name.length).toBeGreaterThan(0);
        expect(t.shape.every((d) => Number.isInteger(d) && d >= -1)).toBe(true);
      }
      expect(model.sizeBytes).toBeGreaterThanOrEqual(c.artifact.byteLength);
    });

    it("infers every declared output, typed and shaped as declared", async () => {
      const meta = model.metadata();
      const outputs = await model.infer(c.validInputs());
      expect(outputs.map((o) => o.name)).toEqual(meta.outputs.map((o) => o.name));
      expectDeclared(outputs, meta.outputs);
    });

    it("returns only the requested outputs, in the requested order", async () => {
      const names = model
        .metadata()
        .outputs.map((o) => o.name)
        .reverse();
      const last = names.slice(0, 1);
      expect((await model.infer(c.validInputs(), { outputs: last })).map((o) => o.name)).toEqual(last);
      expect((await model.infer(c.validInputs(), { outputs: names })).map((o) => o.name)).toEqual(names);
      expect(await codeOf(model.infer(c.validInputs(), { outputs: ["no-such-output"] }))).toBe(
        "INFER_REQUEST_INVALID",
      );
    });

    it("answers client mistakes with INFER_REQUEST_INVALID", async () => {
      const bad = c.badInputs();
      expect(await codeOf(model.infer(bad.unknownName))).toBe("INFER_REQUEST_INVALID");
      expect(await codeOf(model.infer(bad.wrongDatatype))).toBe("INFER_REQUEST_INVALID");
      expect(await codeOf(model.infer(bad.wrongShape))).toBe("INFER_REQUEST_INVALID");
      expect(await codeOf(model.infer(bad.missing))).toBe("INFER_REQUEST_INVALID");
      expect(await codeOf(model.infer([...c.validInputs(), ...c.validInputs()]))).toBe(
        "INFER_REQUEST_INVALID",
      );
      // The model is still fine afterwards.
      await expect(model.infer(c.validInputs())).resolves.toHaveLength(model.metadata().outputs.length);
    });

    it("rejects an already aborted call with the signal's reason", async () => {
      const controller = new AbortController();
      controller.abort(new Error("client went away"));
      await expect(model.infer(c.validInputs(), { signal: controller.signal })).rejects.toThrow(
        "client went away",
      );
    });

    it("refuses a broken artifact with MODEL_FAILED, as an invalid artifact that no retry can fix", async () => {
      const refused = c.runtime.load(c.brokenArtifact, { key: `${c.key}-broken` });
      await expect(refused).rejects.toBeInstanceOf(InvalidArtifactError);
      expect(await codeOf(refused)).toBe("MODEL_FAILED");
    });

    it("validates artifacts as load would, keeping nothing loaded", async () => {
      expect(await c.runtime.validateArtifact(async () => c.artifact)).toBeUndefined();
      const reason = await c.runtime.validateArtifact(async () => c.brokenArtifact);
      expect(reason).toEqual(expect.any(String));
      expect(reason?.length).toBeGreaterThan(0);
      expect(await c.runtime.validateArtifact(async () => new Uint8Array())).toEqual(expect.any(String));
      // The model loaded before is untouched by the checks.
      await expect(model.infer(c.validInputs())).resolves.toHaveLength(model.metadata().outputs.length);
    });

    it("loads the same artifact twice independently, and infer after unload fails with MODEL_NOT_READY", async () => {
      const other = await c.runtime.load(c.artifact, { key: c.key });
      await expect(other.infer(c.validInputs())).resolves.toBeDefined();
      await other.unload();
      await other.unload();
      expect(await codeOf(other.infer(c.validInputs()))).toBe("MODEL_NOT_READY");
      // Unloading one copy leaves the other serving.
      await expect(model.infer(c.validInputs())).resolves.toBeDefined();
    });
  });
}
