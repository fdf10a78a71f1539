// Scenario-file steps for KVM (kvm-pfn.md): a VM, memslots and guest accesses, as entries of the step table.
import { O_CLOEXEC, dmaBufFd, errnoName, getDmaBuf, type ExportedBuffer, type Kernel, type Task } from "@dmabuf-sdk/dmabuf-core";
import { KVM_MEM_VFIO_DMABUF, KVM_PFN_VERSIONS, kvmModuleBuild, type KvmPfnVersion } from "@dmabuf-sdk/kvm";
import { kvmOpenSession, type KvmSession } from "@dmabuf-sdk/kvm/testing";

/**
 * The KVM step kinds:
 * - `vm: { version?, type?, as }` loads the `kvm` build of `version` (default
 *   mainline-vma) and opens `/dev/kvm`, a VM of `type` (x86 VM type, default
 *   0) and vCPU 0;
 * - `memslot: { vm, slot?, flags?, gpa, size, uaddr?, buffer?, fd?, offset? }`
 *   is `KVM_SET_USER_MEMORY_REGION2`; `buffer` (an exported buffer) passes a
 *   fresh dma-buf fd in `guest_memfd` with `KVM_MEM_VFIO_DMABUF` unless
 *   `flags` says otherwise;
 * - `memory-attributes: { vm, gpa, size, attributes }` is `KVM_SET_MEMORY_ATTRIBUTES`;
 * - `guest-read: { vm, gpa, length, private? }` / `guest-write: { vm, gpa, data, private? }`
 *   run the access with `KVM_RUN`; the value is the bytes read (or 0), a
 *   failing run its errno, the exit reason in `$vm.vcpu.run`;
 * - `vm-close: { vm }` closes the vCPU, VM and `/dev/kvm` fds.
 */
export const KVM_STEP_KINDS = ["vm", "memslot", "memory-attributes", "guest-read", "guest-write", "vm-close"] as const;

type Outcome = { value?: unknown; errno?: string };

function ret(r: number): Outcome {
  return r < 0 ? { errno: errnoName(r) ?? String(r) } : { value: r };
}

/** Runs one KVM step of a scenario file. */
export function runKvmStep(kind: string, a: Record<string, unknown>, ctx: { kernel: Kernel; task: Task }, loaded: Set<string>): Outcome {
  const vm = a.vm as KvmSession | undefined;
  switch (kind) {
    case "vm": {
      const version = (a.version as KvmPfnVersion | undefined) ?? "mainline-vma";
      if (!KVM_PFN_VERSIONS.includes(version)) throw new Error(`unknown KVM version ${version}`);
      if (!loaded.has("kvm")) {
        ctx.kernel.modprobe(kvmModuleBuild(version));
        loaded.add("kvm");
      }
      return { value: kvmOpenSession(ctx.task, Number(a.type ?? 0)) };
    }
    case "memslot": {
      const buffer = a.buffer as ExportedBuffer | undefined;
      let fd = a.fd === undefined ? 0 : Number(a.fd);
      if (buffer) {
        fd = ctx.kernel.runAs(ctx.task, () => {
          getDmaBuf(buffer.dmabuf);
          return dmaBufFd(buffer.dmabuf, O_CLOEXEC);
        });
      }
      try {
        return ret(
          vm!.setRegion({
            slot: Number(a.slot ?? 0),
            flags: a.flags === undefined ? (buffer ? KVM_MEM_VFIO_DMABUF : 0) : Number(a.flags),
            guestPhysAddr: BigInt(a.gpa as bigint),
            memorySize: BigInt(a.size as bigint),
            userspaceAddr: BigInt((a.uaddr as bigint | undefined) ?? 0n),
            guestMemfdOffset: BigInt((a.offset as bigint | undefined) ?? 0n),
            guestMemfd: fd,
          }),
        );
      } finally {
        if (buffer) ctx.task.sys.close(fd);
      }
    }
    case "memory-attributes":
      return ret(vm!.setAttributes(BigInt(a.gpa as bigint), BigInt(a.size as bigint), BigInt((a.attributes as bigint | undefined) ?? 0n)));
    case "guest-read": {
      const r = vm!.read(BigInt(a.gpa as bigint), Number(a.length), !!a.private);
      return typeof r === "number" ? ret(r) : { value: r };
    }
    case "guest-write": {
      const data = a.data;
      const bytes = data instanceof Uint8Array ? data : typeof data === "string" ? new TextEncoder().encode(data) : Uint8Array.from(data as number[]);
      return ret(vm!.write(BigInt(a.gpa as bigint), bytes, !!a.private));
    }
    case "vm-close":
      vm!.close();
      return { value: 0 };
    default:
      throw new Error(`unknown KVM step ${kind}`);
  }
}
