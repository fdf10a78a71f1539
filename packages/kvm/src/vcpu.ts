// arch/x86/kvm/x86.c (kvm_arch_vcpu_ioctl_run) and the guest's loads and stores: stage-2 walk, fault, exit.
import { File, KernelBug, KernelError, O_CLOEXEC, O_RDWR, PAGE_SHIFT, type FileOperations, type UserArg } from "@dmabuf-sdk/dmabuf-core";
import type { Kvm } from "./kvm-main.js";
import { KVM_EXIT_HLT, KVM_EXIT_MEMORY_FAULT, KVM_EXIT_MMIO, KVM_RUN } from "./kvm-uapi.js";
import { kvmMmuPageFault, type KvmMemoryFault } from "./mmu.js";

/** One guest instruction the model executes: a load or store at a guest physical address. @public */
export interface GuestAccess {
  readonly op: "read" | "write";
  readonly gpa: bigint;
  /** Bytes (read); a write takes `data.length`. */
  readonly len?: number;
  readonly data?: Uint8Array;
  /** A private access (TDX: the GPA's shared bit clear). */
  readonly private?: boolean;
}

/** `struct kvm_run` as far as the model fills it in. @public */
export interface KvmRun {
  exitReason: number;
  /** `run->mmio` of `KVM_EXIT_MMIO`. */
  mmio: { physAddr: bigint; len: number; isWrite: boolean } | null;
  /** `run->memory_fault` of `KVM_EXIT_MEMORY_FAULT`. */
  memoryFault: KvmMemoryFault | null;
}

/** A retry bound: the kernel retries forever; a model loop this long is a bug. */
const MAX_RETRIES = 64;

/** `struct kvm_vcpu`: its `kvm_run` page, the guest program it executes, and what loads returned. @public */
export class KvmVcpu {
  readonly run: KvmRun = { exitReason: 0, mmio: null, memoryFault: null };
  /** The guest's next instructions; the head stays until it completes. */
  readonly program: GuestAccess[] = [];
  /** Bytes returned by completed loads, in order. */
  readonly loads: Uint8Array[] = [];
  file!: File;
  constructor(
    readonly kvm: Kvm,
    readonly vcpuId: number,
  ) {}
}

/** Bytes of the access at `gpa` within one page, through the stage-2 entry: the platform decides what answers (RAM, a BAR, nothing). */
function accessPage(vcpu: KvmVcpu, a: GuestAccess, gpa: bigint, pos: number, n: number, out: Uint8Array): "done" | "miss" {
  const kvm = vcpu.kvm;
  const gfn = gpa >> BigInt(PAGE_SHIFT);
  const root = a.private ? kvm.privateRoot : kvm.sharedRoot;
  const spte = root.get(gfn);
  if (!spte || (a.op === "write" && !spte.writable)) return "miss";
  const hpa = (spte.pfn << BigInt(PAGE_SHIFT)) | (gpa & 0xfffn);
  const mem = kvm.kernel.platform.physmem;
  if (a.op === "read") out.set(mem.read(hpa, n), pos);
  else mem.write(hpa, a.data!.subarray(pos, pos + n));
  return "done";
}

/**
 * Executes the head of the guest program: each page of the access goes
 * through the stage-2 table; a miss faults (`kvm_mmu_page_fault`), a retry
 * re-executes, a fixed fault re-executes, emulation exits to the VMM. Returns
 * 0 when the access completed, or the exit.
 */
function executeAccess(vcpu: KvmVcpu, a: GuestAccess): { done: true } | { exit: number } | { errno: KernelError } {
  const len = a.op === "read" ? (a.len ?? 0) : a.data!.length;
  const out = new Uint8Array(len);
  let pos = 0;
  let retries = 0;
  while (pos < len) {
    const gpa = a.gpa + BigInt(pos);
    const n = Math.min(4096 - Number(gpa & 0xfffn), len - pos);
    if (accessPage(vcpu, a, gpa, pos, n, out) === "done") {
      pos += n;
      continue;
    }
    const r = kvmMmuPageFault(vcpu.kvm, gpa, !!a.private, a.op === "write");
    if (r.ret === "RET_PF_FIXED" || r.ret === "RET_PF_RETRY") {
      if (++retries > MAX_RETRIES) throw new KernelBug("kvm", `vCPU ${vcpu.vcpuId}: ${MAX_RETRIES} faults at ${gpa.toString(16)} without progress`);
      continue;
    }
    if (r.ret === "RET_PF_EMULATE") {
      vcpu.run.exitReason = KVM_EXIT_MMIO;
      vcpu.run.mmio = { physAddr: gpa, len: n, isWrite: a.op === "write" };
      return { exit: KVM_EXIT_MMIO };
    }
    if (r.memoryFault) {
      vcpu.run.exitReason = KVM_EXIT_MEMORY_FAULT;
      vcpu.run.memoryFault = r.memoryFault;
    }
    return { errno: new KernelError(r.errno, "kvm_arch_vcpu_ioctl_run", `fault at gpa ${gpa.toString(16)}`) };
  }
  if (a.op === "read") vcpu.loads.push(out);
  return { done: true };
}

/**
 * `KVM_RUN`: executes the guest program until it is empty (`KVM_EXIT_HLT`,
 * returns 0), an access needs the VMM (`KVM_EXIT_MMIO`, returns 0), or a
 * fault fails (the errno; `run->exit_reason` is `KVM_EXIT_MEMORY_FAULT`
 * only when the fault path prepared it, otherwise left stale). A failed
 * access stays at the head: the guest has not completed it, and the next
 * `KVM_RUN` retries it.
 * @public
 */
export function kvmVcpuRun(vcpu: KvmVcpu): number {
  vcpu.run.mmio = null;
  while (vcpu.program.length) {
    const a = vcpu.program[0]!;
    const r = executeAccess(vcpu, a);
    if ("errno" in r) throw r.errno;
    if ("exit" in r) {
      vcpu.program.shift();
      return 0;
    }
    vcpu.program.shift();
  }
  vcpu.run.exitReason = KVM_EXIT_HLT;
  return 0;
}

/** `kvm_vcpu_fops`. @public */
export const kvmVcpuFops: FileOperations = {
  name: "kvm-vcpu",
  unlockedIoctl(file: File, cmd: number, _arg: UserArg): number {
    const vcpu = file.privateData as KvmVcpu;
    if (vcpu.kvm.mm !== vcpu.kvm.kernel.current.mm) throw new KernelError("EIO", "kvm_vcpu_ioctl", "not the VM's mm");
    if (cmd !== KVM_RUN) throw new KernelError("ENOTTY", "kvm_vcpu_ioctl", `cmd ${cmd.toString(16)}`);
    return kvmVcpuRun(vcpu);
  },
  release(file: File): void {
    const vcpu = file.privateData as KvmVcpu;
    vcpu.kvm.put();
  },
};

/** `KVM_CREATE_VCPU`: `EINVAL` for an id ≥ 4096, `EEXIST` for a duplicate; returns the vCPU fd (which holds a VM reference). @public */
export function kvmVcpuCreate(kvm: Kvm, id: number): number {
  if (id < 0 || id >= 4096) throw new KernelError("EINVAL", "kvm_vm_ioctl_create_vcpu", `id ${id}`);
  if (kvm.vcpus.some((v) => v.vcpuId === id)) throw new KernelError("EEXIST", "kvm_vm_ioctl_create_vcpu", `vcpu ${id}`);
  const k = kvm.kernel;
  const files = k.current.files;
  const fd = files.getUnusedFdFlags(O_CLOEXEC);
  try {
    k.alloc.kzalloc("kvm_vcpu");
  } catch (e) {
    files.putUnusedFd(fd);
    throw e;
  }
  const vcpu = new KvmVcpu(kvm, id);
  vcpu.file = new File(k, kvmVcpuFops, vcpu, O_RDWR);
  kvm.vcpus.push(vcpu);
  kvm.get();
  files.fdInstall(fd, vcpu.file);
  return fd;
}
