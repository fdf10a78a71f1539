// Scenario-file steps for KVM (kvm-pfn.md): a VM, memslots and guest accesses, as rows of the step table.
import { O_CLOEXEC, dmaBufFd, errnoName, getDmaBuf, type ExportedBuffer } from "@dmabuf-sdk/dmabuf-core";
import { KVM_MEM_VFIO_DMABUF, KVM_PFN_VERSIONS, kvmModuleBuild, type KvmPfnVersion } from "@dmabuf-sdk/kvm";
import { kvmOpenSession, type KvmSession } from "@dmabuf-sdk/kvm/testing";
import type { JsonSchema, StepDefinition, StepOutcome } from "./scenario-steps.js";

const VAR: JsonSchema = { type: "string", pattern: "^\\$[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z0-9_]+)*$" };
const NUM: JsonSchema = { anyOf: [{ type: "integer" }, { type: "string", pattern: "^(0x[0-9a-fA-F]+|[0-9]+)n$" }, VAR] };
const BYTES: JsonSchema = { anyOf: [{ type: "string" }, { type: "array", items: { type: "integer", minimum: 0, maximum: 255 } }, VAR] };
const obj = (properties: Record<string, JsonSchema>, required: readonly string[] = []): JsonSchema => ({ type: "object", properties, required, additionalProperties: false });

const big = (v: unknown): bigint => (typeof v === "bigint" ? v : BigInt(v as number | string));
const ret = (r: number): StepOutcome => (r < 0 ? { errno: errnoName(r) ?? String(r) } : { value: r });
const bytes = (v: unknown): Uint8Array => (v instanceof Uint8Array ? v : typeof v === "string" ? new TextEncoder().encode(v) : Uint8Array.from(v as number[]));

/** The KVM rows of the scenario step table. */
export const KVM_SCENARIO_STEPS: Readonly<Record<string, StepDefinition>> = {
  vm: {
    summary: "load the `kvm` build of `version` (default mainline-vma) and open /dev/kvm, a VM of x86 `type` (default 0) and vCPU 0",
    args: obj({ version: { enum: [...KVM_PFN_VERSIONS] }, type: NUM }),
    run(a, ctx) {
      ctx.load([kvmModuleBuild((a.version as KvmPfnVersion | undefined) ?? "mainline-vma")]);
      return { value: kvmOpenSession(ctx.task, Number(a.type ?? 0)) };
    },
  },
  memslot: {
    summary: "KVM_SET_USER_MEMORY_REGION2 on `vm`; `buffer` passes a fresh dma-buf fd in guest_memfd with KVM_MEM_VFIO_DMABUF unless `flags` says otherwise, or `fd`",
    args: obj({ vm: VAR, slot: NUM, flags: NUM, gpa: NUM, size: NUM, uaddr: NUM, buffer: VAR, fd: NUM, offset: NUM }, ["vm", "gpa", "size"]),
    run(a, ctx) {
      const buffer = a.buffer as ExportedBuffer | undefined;
      const fd = buffer
        ? ctx.kernel.runAs(ctx.task, () => {
            getDmaBuf(buffer.dmabuf);
            return dmaBufFd(buffer.dmabuf, O_CLOEXEC);
          })
        : Number(a.fd ?? 0);
      try {
        return ret(
          (a.vm as KvmSession).setRegion({
            slot: Number(a.slot ?? 0),
            flags: a.flags === undefined ? (buffer ? KVM_MEM_VFIO_DMABUF : 0) : Number(a.flags),
            guestPhysAddr: big(a.gpa),
            memorySize: big(a.size),
            userspaceAddr: big(a.uaddr ?? 0),
            guestMemfdOffset: big(a.offset ?? 0),
            guestMemfd: fd,
          }),
        );
      } finally {
        if (buffer) ctx.task.sys.close(fd);
      }
    },
  },
  "memory-attributes": {
    summary: "KVM_SET_MEMORY_ATTRIBUTES on `vm` (`attributes` 8 = PRIVATE)",
    args: obj({ vm: VAR, gpa: NUM, size: NUM, attributes: NUM }, ["vm", "gpa", "size"]),
    run: (a) => ret((a.vm as KvmSession).setAttributes(big(a.gpa), big(a.size), big(a.attributes ?? 0))),
  },
  "guest-read": {
    summary: "a vCPU load of `length` bytes at `gpa` through stage-2 (KVM_RUN); the bytes, or KVM_RUN's errno",
    args: obj({ vm: VAR, gpa: NUM, length: NUM, private: { type: "boolean" } }, ["vm", "gpa", "length"]),
    run(a) {
      const r = (a.vm as KvmSession).read(big(a.gpa), Number(a.length), !!a.private);
      return typeof r === "number" ? ret(r) : { value: r };
    },
  },
  "guest-write": {
    summary: "a vCPU store of `data` at `gpa` through stage-2 (KVM_RUN); 0 or KVM_RUN's errno",
    args: obj({ vm: VAR, gpa: NUM, data: BYTES, private: { type: "boolean" } }, ["vm", "gpa", "data"]),
    run: (a) => ret((a.vm as KvmSession).write(big(a.gpa), bytes(a.data), !!a.private)),
  },
  "vm-close": {
    summary: "close the vCPU, VM and /dev/kvm fds of `vm`",
    args: obj({ vm: VAR }, ["vm"]),
    run: (a) => ((a.vm as KvmSession).close(), { value: 0 }),
  },
};
