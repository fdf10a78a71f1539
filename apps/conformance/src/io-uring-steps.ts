// Scenario-file steps for io_uring dma-buf registration and fixed I/O (the io_uring dma-buf series), kept in one table.
import { KernelError, O_CLOEXEC, dmaBufFd, dmaBufPut, errnoName, getDmaBuf, type ExportedBuffer, type Kernel, type Task } from "@dmabuf-sdk/dmabuf-core";
import { IoUring, type IoDmabufVersion } from "@dmabuf-sdk/io-uring";
import type { JsonSchema, StepDefinition } from "./scenario-steps.js";

type Outcome = { value?: unknown; errno?: string };

const VAR: JsonSchema = { type: "string", pattern: "^\\$[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z0-9_]+)*$" };
const NUM: JsonSchema = { anyOf: [{ type: "integer" }, { type: "string", pattern: "^(0x[0-9a-fA-F]+|[0-9]+)n$" }, VAR] };
const obj = (properties: Record<string, JsonSchema>, required: readonly string[] = []): JsonSchema => ({ type: "object", properties, required, additionalProperties: false });

function res(r: number): Outcome {
  return r < 0 ? { errno: errnoName(r) ?? String(r) } : { value: r };
}

/**
 * Runs one io_uring step:
 * - `uring-setup: { entries?, version?: v6|v3, task? }` → the ring (use `as:`);
 * - `uring-register: { ring, slot?, sparse?, buffer | dmabufFd, target }`: a sparse table of
 *   `sparse` slots (default 1) when the ring has none, then the dma-buf (an exported buffer's, via a
 *   temporary fd, or an fd) registered for fd `target` → 1 or the errno;
 * - `uring-fixed: { ring, op: read|write, fd, offset?, length, pos?, slot? }` → the CQE's bytes or errno;
 * - `uring-unregister: { ring }`, `uring-close: { ring }`.
 */
function ioUringStep(kind: string, a: Readonly<Record<string, unknown>>, ctx: { kernel: Kernel; task: Task }): Outcome {
  const ring = a.ring as IoUring;
  switch (kind) {
    case "uring-setup":
      return { value: new IoUring((a.task as Task | undefined) ?? ctx.task, Number(a.entries ?? 64), { flags: 0, dmabufVersion: (a.version as IoDmabufVersion | undefined) ?? "v6" }) };
    case "uring-register": {
      const tables = ring as unknown as { sparseDone?: boolean };
      if (!tables.sparseDone) {
        const r = ring.registerBuffersSparse(Number(a.sparse ?? 1));
        if (r < 0 && errnoName(r) !== "EBUSY") return res(r);
        tables.sparseDone = true;
      }
      let fd = a.dmabufFd === undefined ? -1 : Number(a.dmabufFd);
      const buf = a.buffer as ExportedBuffer | undefined;
      if (buf) {
        getDmaBuf(buf.dmabuf);
        try {
          fd = ctx.kernel.runAs(ring.task, () => dmaBufFd(buf.dmabuf, O_CLOEXEC));
        } catch (e) {
          dmaBufPut(buf.dmabuf);
          throw e;
        }
      }
      try {
        return res(ring.registerDmabuf(Number(a.slot ?? 0), fd, Number(a.target)));
      } finally {
        if (buf) ring.task.sys.close(fd);
      }
    }
    case "uring-fixed": {
      if (a.op !== "read" && a.op !== "write") throw new KernelError("EINVAL", "uring-fixed", "op must be read or write");
      ring.queueFixed(a.op === "write", Number(a.fd), BigInt((a.offset as number | bigint | undefined) ?? 0), Number(a.length), BigInt((a.pos as number | bigint | undefined) ?? 0), Number(a.slot ?? 0));
      return res(ring.run(1)[0]!.res);
    }
    case "uring-unregister":
      return res(ring.unregisterBuffers());
    case "uring-close":
      ring.close();
      ctx.kernel.clock.advance(100e6);
      return { value: 0 };
    default:
      throw new Error(`unknown io_uring step ${kind}`);
  }
}

/** The io_uring entries of the scenario step table. */
export const IO_URING_STEPS: Readonly<Record<string, StepDefinition>> = {
  "uring-setup": {
    summary: "an io_uring in the scenario's task (liburing-like); `version`: v6 (default) or v3 of the dma-buf series",
    args: obj({ entries: NUM, version: { enum: ["v6", "v3"] }, task: VAR }),
    run: (a, ctx) => ioUringStep("uring-setup", a, ctx),
  },
  "uring-register": {
    summary: "register a dma-buf (an exported buffer or an fd) in a buffer slot for the target fd (IORING_RSRC_UPDATE_EXTENDED)",
    args: obj({ ring: VAR, slot: NUM, sparse: NUM, buffer: VAR, dmabufFd: NUM, target: NUM }, ["ring", "target"]),
    run: (a, ctx) => ioUringStep("uring-register", a, ctx),
  },
  "uring-fixed": {
    summary: "one READ_FIXED or WRITE_FIXED on a registered buffer; the CQE's bytes or errno",
    args: obj({ ring: VAR, op: { enum: ["read", "write"] }, fd: NUM, offset: NUM, length: NUM, pos: NUM, slot: NUM }, ["ring", "op", "fd", "length"]),
    run: (a, ctx) => ioUringStep("uring-fixed", a, ctx),
  },
  "uring-unregister": { summary: "IORING_UNREGISTER_BUFFERS", args: obj({ ring: VAR }, ["ring"]), run: (a, ctx) => ioUringStep("uring-unregister", a, ctx) },
  "uring-close": { summary: "close the ring (in-flight requests drain, registrations are released)", args: obj({ ring: VAR }, ["ring"]), run: (a, ctx) => ioUringStep("uring-close", a, ctx) },
};
