// Tests the stage-2 table: the invalidation sequence, private/shared accesses, and which buffers each design binds.
import { describe, expect, it } from "vitest";
import { ERRNO, MAP_SHARED, O_CLOEXEC, PROT_READ, PROT_WRITE, dmaBufFd, dmaBufPut, getDmaBuf, type DmaBuf } from "@dmabuf-sdk/dmabuf-core";
import { palMmioSetRevoked, type PalMmioBuffer } from "@dmabuf-sdk/map-pal/testing";
import {
  KVM_EXIT_MEMORY_FAULT,
  KVM_MEM_VFIO_DMABUF,
  KVM_MEMORY_ATTRIBUTE_PRIVATE,
  KVM_MEMORY_EXIT_FLAG_PRIVATE,
  KVM_X86_DEFAULT_VM,
  KVM_X86_SW_PROTECTED_VM,
  kvmMmuInvalidateBegin,
  kvmMmuInvalidateEnd,
  mmuInvalidateRetryGfn,
  type KvmPfnVersion,
} from "@dmabuf-sdk/kvm";
import { kvmOpenSession, kvmTestBoot, type KvmSession, type KvmTestMachine } from "@dmabuf-sdk/kvm/testing";

const GPA = 0x1_0000_0000n;
const SIZE = 0x10000n;
const E = (n: keyof typeof ERRNO) => -ERRNO[n];

function fdOf(m: KvmTestMachine, dmabuf: DmaBuf): number {
  return m.kernel.runAs(m.task, () => {
    getDmaBuf(dmabuf);
    return dmaBufFd(dmabuf, O_CLOEXEC);
  });
}

const DMABUF_VERSIONS: readonly KvmPfnVersion[] = ["yilun-v1", "yilun-v2", "pfn-attachment", "maptype-pal"];

/** A VM with the buffer at GPA as slot 0 in `version`'s form (v1: a private buffer). */
function setup(version: KvmPfnVersion, opts: { private?: boolean } = {}): { m: KvmTestMachine; s: KvmSession; buf: DmaBuf<PalMmioBuffer>; fd: number; close(): void } {
  const m = kvmTestBoot(version, version === "maptype-pal" ? { pal: "iommufd,kvm" } : {});
  const priv = opts.private ?? version === "yilun-v1";
  const buf = m.exportMmio(SIZE, { private: priv, offset: 0x4000n });
  const s = kvmOpenSession(m.task, version === "mainline-vma" ? KVM_X86_DEFAULT_VM : KVM_X86_SW_PROTECTED_VM);
  buf.priv.sideData.kvm = s.kvm;
  const fd = fdOf(m, buf);
  let uaddr = 0n;
  if (version === "mainline-vma") {
    uaddr = m.task.sys.mmap(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    expect(uaddr > 0n).toBe(true);
    expect(s.setRegion({ slot: 0, flags: 0, guestPhysAddr: GPA, memorySize: SIZE, userspaceAddr: uaddr })).toBe(0);
  } else {
    expect(s.setRegion({ slot: 0, flags: KVM_MEM_VFIO_DMABUF, guestPhysAddr: GPA, memorySize: SIZE, userspaceAddr: 0n, guestMemfd: fd })).toBe(0);
  }
  if (priv) expect(s.setAttributes(GPA, SIZE, KVM_MEMORY_ATTRIBUTE_PRIVATE)).toBe(0);
  return {
    m,
    s,
    buf,
    fd,
    close() {
      s.close();
      if (uaddr) m.task.sys.munmap(uaddr, SIZE);
      m.task.sys.close(fd);
      dmaBufPut(buf);
    },
  };
}

describe("the invalidation sequence (kvm_mmu_invalidate_begin/end, mmu_invalidate_retry_gfn)", () => {
  it("a fault retries while an invalidation covering its gfn is open, and after any ended since it read mmu_seq", () => {
    const { m, s, close } = setup("yilun-v2");
    const kvm = s.kvm;
    const seq = kvm.mmuInvalidateSeq;
    kvm.mmuLock.downWrite();
    kvmMmuInvalidateBegin(kvm, 10n, 20n);
    expect(mmuInvalidateRetryGfn(kvm, seq, 15n)).toBe(true);
    expect(mmuInvalidateRetryGfn(kvm, seq, 25n)).toBe(false);
    kvmMmuInvalidateBegin(kvm, 30n, 40n);
    expect([kvm.mmuInvalidateRangeStart, kvm.mmuInvalidateRangeEnd]).toEqual([10n, 40n]);
    kvmMmuInvalidateEnd(kvm);
    expect(kvm.mmuInvalidateInProgress).toBe(1);
    kvmMmuInvalidateEnd(kvm);
    kvm.mmuLock.upWrite();
    expect(kvm.mmuInvalidateSeq).toBe(seq + 2n);
    expect(mmuInvalidateRetryGfn(kvm, seq, 25n)).toBe(true);
    expect(mmuInvalidateRetryGfn(kvm, kvm.mmuInvalidateSeq, 25n)).toBe(false);
    close();
    expect(m.kernel.leakReport().empty).toBe(true);
  });
});

describe.each<KvmPfnVersion>(["mainline-vma", ...DMABUF_VERSIONS])("guest access to the BAR (%s)", (version) => {
  const priv = version === "yilun-v1";

  it("a vCPU load and store at a GPA reach the BAR's bytes through stage-2; KVM_RUN ends in HLT", () => {
    const { m, s, buf, close } = setup(version);
    const phys = m.kernel.platform.physmem;
    phys.write(buf.priv.paddr + 0x2345n, Uint8Array.of(1, 2, 3, 4));
    expect(s.read(GPA + 0x2345n, 4, priv)).toEqual(Uint8Array.of(1, 2, 3, 4));
    expect(s.write(GPA + 0x5ff0n, Uint8Array.of(9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22), priv)).toBe(0);
    expect(phys.read(buf.priv.paddr + 0x5ff0n, 4)).toEqual(Uint8Array.of(9, 8, 7, 6));
    expect(phys.read(buf.priv.paddr + 0x6000n, 2)).toEqual(Uint8Array.of(7, 8));
    expect(s.vcpu.run.exitReason).toBe(5);
    const root = priv ? s.kvm.privateRoot : s.kvm.sharedRoot;
    expect([...root.values()].every((e) => e.mmio && e.private === priv)).toBe(true);
    close();
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("revoke zaps stage-2 under the resv lock; the next access fails as the reference says; unrevoke maps again", () => {
    const { m, s, buf, close } = setup(version);
    expect(s.read(GPA, 8, priv)).toBeInstanceOf(Uint8Array);
    expect(s.kvm.sharedRoot.size + s.kvm.privateRoot.size).toBe(1);
    const seq = s.kvm.mmuInvalidateSeq;
    palMmioSetRevoked(buf, true);
    expect(s.kvm.sharedRoot.size + s.kvm.privateRoot.size).toBe(0);
    expect(s.kvm.mmuInvalidateSeq > seq).toBe(true);
    s.vcpu.run.exitReason = 0;
    const r = s.read(GPA, 8, priv);
    if (version === "mainline-vma") {
      // The VMA's fault handler refuses: KVM_PFN_ERR_FAULT, memory-fault exit without PRIVATE, EFAULT.
      expect(r).toBe(E("EFAULT"));
      expect(s.vcpu.run.exitReason).toBe(KVM_EXIT_MEMORY_FAULT);
      expect(s.vcpu.run.memoryFault).toEqual({ flags: 0n, gpa: GPA, size: 4096n });
    } else if (priv) {
      expect(r).toBe(E("EIO"));
      expect(s.vcpu.run.exitReason).toBe(KVM_EXIT_MEMORY_FAULT);
      expect(s.vcpu.run.memoryFault).toEqual({ flags: KVM_MEMORY_EXIT_FLAG_PRIVATE, gpa: GPA, size: 4096n });
    } else {
      // Shared: EIO and run->exit_reason left as it was.
      expect(r).toBe(E("EIO"));
      expect(s.vcpu.run.exitReason).toBe(0);
    }
    expect(s.kvm.sharedRoot.size + s.kvm.privateRoot.size).toBe(0);
    palMmioSetRevoked(buf, false);
    m.kernel.platform.physmem.write(buf.priv.paddr, Uint8Array.of(0x5a));
    expect(s.read(GPA, 1, priv)).toEqual(Uint8Array.of(0x5a));
    close();
    expect(m.kernel.leakReport().empty).toBe(true);
    expect(m.kernel.lockdep.reports()).toEqual([]);
  });

  it("a fault racing a revoke (between get_pfn and mmu_lock) retries and never maps the revoked BAR", () => {
    const { m, s, buf, close } = setup(version);
    let raced = false;
    s.kvm.onPreempt("after_get_pfn", () => {
      palMmioSetRevoked(buf, true);
      raced = true;
    });
    const r = s.read(GPA, 8, priv);
    expect(raced).toBe(true);
    expect(r).toBe(version === "mainline-vma" ? E("EFAULT") : E("EIO"));
    expect(s.kvm.sharedRoot.size + s.kvm.privateRoot.size).toBe(0);
    expect(m.kernel.trace.events("kvm_mmu_fault_retry").length).toBe(1);
    palMmioSetRevoked(buf, false);
    expect(s.read(GPA, 8, priv)).toBeInstanceOf(Uint8Array);
    close();
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("closing every fd while mapped leaves nothing behind", () => {
    const { m, s, close } = setup(version);
    expect(s.read(GPA + 0x3000n, 4, priv)).toBeInstanceOf(Uint8Array);
    close();
    expect(m.kernel.leakReport().empty).toBe(true);
    expect(m.kernel.warnings()).toEqual([]);
  });
});

describe("private and shared accesses (memory attributes)", () => {
  it("an access whose attribute differs from the gfn's is a memory-fault exit with EFAULT", () => {
    const { m, s, close } = setup("yilun-v2");
    expect(s.read(GPA, 4, true)).toBe(E("EFAULT"));
    expect(s.vcpu.run.memoryFault).toEqual({ flags: KVM_MEMORY_EXIT_FLAG_PRIVATE, gpa: GPA, size: 4096n });
    expect(s.setAttributes(GPA, 0x1000n, KVM_MEMORY_ATTRIBUTE_PRIVATE)).toBe(0);
    expect(s.read(GPA, 4, false)).toBe(E("EFAULT"));
    expect(s.vcpu.run.memoryFault).toEqual({ flags: 0n, gpa: GPA, size: 4096n });
    expect(s.read(GPA, 4, true)).toBeInstanceOf(Uint8Array);
    // Converting back zaps the private entry.
    expect(s.setAttributes(GPA, 0x1000n, 0n)).toBe(0);
    expect(s.kvm.privateRoot.size).toBe(0);
    close();
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("a private access to a slot that cannot be private (PAL) is a memory-fault exit with EFAULT", () => {
    const { m, s, close } = setup("maptype-pal");
    expect(s.setAttributes(GPA, SIZE, KVM_MEMORY_ATTRIBUTE_PRIVATE)).toBe(0);
    expect(s.read(GPA, 4, true)).toBe(E("EFAULT"));
    expect(s.vcpu.run.exitReason).toBe(KVM_EXIT_MEMORY_FAULT);
    close();
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it.each([
    { desc: "flags", args: [0x1000n, 0x1000n, KVM_MEMORY_ATTRIBUTE_PRIVATE, 1n] },
    { desc: "an unsupported attribute", args: [0x1000n, 0x1000n, 1n, 0n] },
    { desc: "size 0", args: [0x1000n, 0n, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0n] },
    { desc: "unaligned address", args: [0x1001n, 0x1000n, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0n] },
  ] as const)("KVM_SET_MEMORY_ATTRIBUTES with $desc is EINVAL", ({ args }) => {
    const { m, s, close } = setup("yilun-v2");
    expect(m.task.sys.ioctl(s.vmFd, 0x4020aed2, (() => {
      const b = new Uint8Array(32);
      const v = new DataView(b.buffer);
      args.forEach((x, i) => v.setBigUint64(8 * i, x, true));
      return b;
    })())).toBe(E("EINVAL"));
    close();
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("a DEFAULT VM has no PRIVATE attribute", () => {
    const { m, s, close } = setup("mainline-vma");
    expect(s.setAttributes(GPA, SIZE, KVM_MEMORY_ATTRIBUTE_PRIVATE)).toBe(E("EINVAL"));
    close();
    expect(m.kernel.leakReport().empty).toBe(true);
  });
});

describe("which buffers each design binds (the map-pal test exporter)", () => {
  it.each([
    { version: "yilun-v1", private: false, expect: E("EINVAL") },
    { version: "yilun-v1", private: true, expect: 0 },
    { version: "yilun-v2", private: false, expect: 0 },
    { version: "yilun-v2", private: true, expect: 0 },
    { version: "pfn-attachment", private: true, expect: 0 },
    { version: "maptype-pal", private: false, expect: 0 },
    // A private buffer offers no mapping type at all: nothing for PAL to match.
    { version: "maptype-pal", private: true, expect: E("EINVAL") },
  ] as const)("$version, private $private → $expect", ({ version, private: p, expect: want }) => {
    const m = kvmTestBoot(version, version === "maptype-pal" ? { pal: "iommufd,kvm" } : {});
    const buf = m.exportMmio(SIZE, { private: p });
    const s = kvmOpenSession(m.task, KVM_X86_SW_PROTECTED_VM);
    buf.priv.sideData.kvm = s.kvm;
    const fd = fdOf(m, buf);
    expect(s.setRegion({ slot: 0, flags: KVM_MEM_VFIO_DMABUF, guestPhysAddr: GPA, memorySize: SIZE, userspaceAddr: 0n, guestMemfd: fd })).toBe(want);
    s.close();
    m.task.sys.close(fd);
    dmaBufPut(buf);
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("v1/v2 without vfio loaded: symbol_get finds nothing, ENOENT", () => {
    const m = kvmTestBoot("yilun-v2", { vfio: false });
    const buf = m.exportMmio(SIZE);
    const s = kvmOpenSession(m.task, KVM_X86_SW_PROTECTED_VM);
    const fd = fdOf(m, buf);
    expect(s.setRegion({ slot: 0, flags: KVM_MEM_VFIO_DMABUF, guestPhysAddr: GPA, memorySize: SIZE, userspaceAddr: 0n, guestMemfd: fd })).toBe(E("ENOENT"));
    s.close();
    m.task.sys.close(fd);
    dmaBufPut(buf);
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("a private buffer cannot be mmapped by the VMM (no mmap op: EINVAL)", () => {
    const m = kvmTestBoot("mainline-vma");
    const buf = m.exportMmio(SIZE, { private: true });
    const fd = fdOf(m, buf);
    expect(m.task.sys.mmap(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd)).toBe(BigInt(E("EINVAL")));
    m.task.sys.close(fd);
    dmaBufPut(buf);
    expect(m.kernel.leakReport().empty).toBe(true);
  });
});
