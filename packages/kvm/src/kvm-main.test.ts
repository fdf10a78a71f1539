// Tests virt/kvm/kvm_main.c's memslot ioctls (ports of set_memory_region_test.c) and the checks in the kernel's order.
import { describe, expect, it } from "vitest";
import { ERRNO, O_CLOEXEC, O_RDWR, dmaBufFd, dmaBufPut, getDmaBuf, type DmaBuf } from "@dmabuf-sdk/dmabuf-core";
import {
  KVM_CREATE_VM,
  KVM_MEM_GUEST_MEMFD,
  KVM_MEM_LOG_DIRTY_PAGES,
  KVM_MEM_READONLY,
  KVM_MEM_VFIO_DMABUF,
  KVM_SET_USER_MEMORY_REGION,
  KVM_USER_MEM_SLOTS,
  KVM_X86_DEFAULT_VM,
  KVM_X86_SW_PROTECTED_VM,
  kvmUserspaceMemoryRegion,
  type KvmPfnVersion,
} from "@dmabuf-sdk/kvm";
import { kvmOpenSession, kvmTestBoot, type KvmTestMachine } from "@dmabuf-sdk/kvm/testing";

const GPA = 0x1_0000_0000n;
const MB2 = 0x20_0000n;
/** A user address the VMM "owns" (access_ok: below TASK_SIZE_MAX). */
const UADDR = 0x7f00_0000_0000n;

function fdOf(m: KvmTestMachine, dmabuf: DmaBuf): number {
  return m.kernel.runAs(m.task, () => {
    getDmaBuf(dmabuf);
    return dmaBufFd(dmabuf, O_CLOEXEC);
  });
}

const E = (n: keyof typeof ERRNO) => -ERRNO[n];

describe("set_memory_region_test.c", () => {
  it("test_invalid_memory_region_flags: every unsupported bit is EINVAL, v2-only bits EINVAL on the legacy ioctl", () => {
    const m = kvmTestBoot("mainline-vma");
    const s = kvmOpenSession(m.task, KVM_X86_SW_PROTECTED_VM);
    const supported = KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY | KVM_MEM_GUEST_MEMFD;
    const v2Only = KVM_MEM_GUEST_MEMFD;
    for (let i = 0; i < 32; i++) {
      const bit = 1 << i;
      if (supported & bit && !(v2Only & bit)) continue;
      const legacy = m.task.sys.ioctl(s.vmFd, KVM_SET_USER_MEMORY_REGION, kvmUserspaceMemoryRegion({ slot: 0, flags: bit, guestPhysAddr: GPA, memorySize: MB2, userspaceAddr: UADDR }));
      expect(legacy, `legacy bit ${i}`).toBe(E("EINVAL"));
      if (supported & bit) continue;
      expect(s.setRegion({ slot: 0, flags: bit, guestPhysAddr: GPA, memorySize: MB2, userspaceAddr: UADDR }), `v2 bit ${i}`).toBe(E("EINVAL"));
    }
    // Dirty logging and read-only are not allowed with guest_memfd.
    expect(s.setRegion({ slot: 0, flags: KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_GUEST_MEMFD, guestPhysAddr: GPA, memorySize: MB2, userspaceAddr: UADDR })).toBe(E("EINVAL"));
    expect(s.setRegion({ slot: 0, flags: KVM_MEM_READONLY | KVM_MEM_GUEST_MEMFD, guestPhysAddr: GPA, memorySize: MB2, userspaceAddr: UADDR })).toBe(E("EINVAL"));
    s.close();
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("test_add_max_memory_regions: KVM_CAP_NR_MEMSLOTS slots fit, the next id is EINVAL", () => {
    const m = kvmTestBoot("mainline-vma");
    const s = kvmOpenSession(m.task, KVM_X86_DEFAULT_VM);
    for (let slot = 0; slot < KVM_USER_MEM_SLOTS; slot++) {
      const r = s.setRegion({ slot, flags: 0, guestPhysAddr: GPA + BigInt(slot) * MB2, memorySize: MB2, userspaceAddr: UADDR - (1n << 46n) + BigInt(slot) * MB2 });
      if (r !== 0) expect.fail(`slot ${slot}: ${r}`);
    }
    expect(s.kvm.memslots[0]!.size).toBe(KVM_USER_MEM_SLOTS);
    expect(s.setRegion({ slot: KVM_USER_MEM_SLOTS, flags: 0, guestPhysAddr: GPA + BigInt(KVM_USER_MEM_SLOTS) * MB2, memorySize: MB2, userspaceAddr: UADDR })).toBe(E("EINVAL"));
    s.close();
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("test_add_private_memory_region: the KVM fd and the VM fd are not a guest_memfd (EINVAL); a closed fd is EBADF", () => {
    const m = kvmTestBoot("mainline-vma");
    const s = kvmOpenSession(m.task, KVM_X86_SW_PROTECTED_VM);
    for (const fd of [s.kvmFd, s.vmFd]) expect(s.setRegion({ slot: 0, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: GPA, memorySize: MB2, userspaceAddr: 0n, guestMemfd: fd })).toBe(E("EINVAL"));
    expect(s.setRegion({ slot: 0, flags: KVM_MEM_GUEST_MEMFD, guestPhysAddr: GPA, memorySize: MB2, userspaceAddr: 0n, guestMemfd: 99 })).toBe(E("EBADF"));
    expect(s.kvm.memslots[0]!.size).toBe(0);
    s.close();
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("test_move_memory_region: a moved slot answers at its new GPA; the old one exits as emulated MMIO", () => {
    const m = kvmTestBoot("yilun-v2");
    const buf = m.exportMmio(MB2);
    const s = kvmOpenSession(m.task, KVM_X86_SW_PROTECTED_VM);
    buf.priv.sideData.kvm = s.kvm;
    const fd = fdOf(m, buf);
    m.kernel.platform.physmem.write(buf.priv.paddr + 0x1000n, Uint8Array.of(0xaa));
    expect(s.setRegion({ slot: 0, flags: KVM_MEM_VFIO_DMABUF, guestPhysAddr: GPA, memorySize: MB2, userspaceAddr: 0n, guestMemfd: fd })).toBe(0);
    expect(s.read(GPA + 0x1000n, 1)).toEqual(Uint8Array.of(0xaa));
    expect(s.setRegion({ slot: 0, flags: KVM_MEM_VFIO_DMABUF, guestPhysAddr: GPA + MB2, memorySize: MB2, userspaceAddr: 0n, guestMemfd: fd })).toBe(0);
    expect(s.read(GPA + MB2 + 0x1000n, 1)).toEqual(Uint8Array.of(0xaa));
    expect(s.run({ op: "read", gpa: GPA + 0x1000n, len: 1 })).toBe(0);
    expect(s.vcpu.run.exitReason).toBe(6); // KVM_EXIT_MMIO
    expect(buf.attachments.length).toBe(1);
    s.close();
    m.task.sys.close(fd);
    dmaBufPut(buf);
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("test_delete_memory_region: after DELETE the guest's access exits to user space and the buffer is detached", () => {
    const m = kvmTestBoot("yilun-v2");
    const buf = m.exportMmio(MB2);
    const s = kvmOpenSession(m.task, KVM_X86_SW_PROTECTED_VM);
    buf.priv.sideData.kvm = s.kvm;
    const fd = fdOf(m, buf);
    expect(s.setRegion({ slot: 0, flags: KVM_MEM_VFIO_DMABUF, guestPhysAddr: GPA, memorySize: MB2, userspaceAddr: 0n, guestMemfd: fd })).toBe(0);
    expect(s.read(GPA, 4)).toBeInstanceOf(Uint8Array);
    expect(s.kvm.sharedRoot.size).toBe(1);
    expect(s.setRegion({ slot: 0, flags: KVM_MEM_VFIO_DMABUF, guestPhysAddr: GPA, memorySize: 0n, userspaceAddr: 0n })).toBe(0);
    expect(s.kvm.sharedRoot.size).toBe(0);
    expect(buf.attachments.length).toBe(0);
    expect(s.run({ op: "read", gpa: GPA, len: 4 })).toBe(0);
    expect(s.vcpu.run.exitReason).toBe(6);
    // Deleting it again: the slot is empty.
    expect(s.setRegion({ slot: 0, flags: 0, guestPhysAddr: GPA, memorySize: 0n, userspaceAddr: 0n })).toBe(E("EINVAL"));
    s.close();
    m.task.sys.close(fd);
    dmaBufPut(buf);
    expect(m.kernel.leakReport().empty).toBe(true);
  });
});

describe("kvm_set_memory_region(): the checks in the kernel's order", () => {
  const base = { slot: 0, flags: 0, guestPhysAddr: GPA, memorySize: MB2, userspaceAddr: UADDR };
  it.each([
    { desc: "memory_size not page aligned", r: { memorySize: MB2 + 1n }, errno: "EINVAL" },
    { desc: "guest_phys_addr not page aligned", r: { guestPhysAddr: GPA + 1n }, errno: "EINVAL" },
    { desc: "userspace_addr not page aligned", r: { userspaceAddr: UADDR + 8n }, errno: "EINVAL" },
    { desc: "userspace_addr beyond TASK_SIZE_MAX (access_ok)", r: { userspaceAddr: 1n << 47n }, errno: "EINVAL" },
    { desc: "as_id 2 (x86 has 2 address spaces)", r: { slot: 2 << 16 }, errno: "EINVAL" },
    { desc: "slot id KVM_USER_MEM_SLOTS", r: { slot: KVM_USER_MEM_SLOTS }, errno: "EINVAL" },
    { desc: "gpa + size wraps 2^64", r: { guestPhysAddr: (1n << 64n) - 0x1000n }, errno: "EINVAL" },
    { desc: "more than KVM_MEM_MAX_NR_PAGES", r: { memorySize: 1n << 43n, userspaceAddr: 0x1000n }, errno: "EINVAL" },
    { desc: "size 0 of a slot that does not exist", r: { memorySize: 0n }, errno: "EINVAL" },
    { desc: "VFIO_DMABUF in mainline (an unknown flag)", r: { flags: KVM_MEM_VFIO_DMABUF }, errno: "EINVAL" },
  ] as const)("$desc → $errno, nothing behind", ({ r, errno }) => {
    const m = kvmTestBoot("mainline-vma");
    const s = kvmOpenSession(m.task, KVM_X86_DEFAULT_VM);
    expect(s.setRegion({ ...base, ...r })).toBe(E(errno));
    expect(s.kvm.memslots.every((x) => x.size === 0)).toBe(true);
    s.close();
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("overlap within one address space is EEXIST, in the SMM address space it is not; MOVE may overlap itself", () => {
    const m = kvmTestBoot("mainline-vma");
    const s = kvmOpenSession(m.task, KVM_X86_DEFAULT_VM);
    expect(s.setRegion(base)).toBe(0);
    expect(s.setRegion({ ...base, slot: 1, guestPhysAddr: GPA + 0x1000n, userspaceAddr: UADDR + MB2 })).toBe(E("EEXIST"));
    expect(s.setRegion({ ...base, slot: (1 << 16) | 1 })).toBe(0);
    expect(s.setRegion({ ...base, guestPhysAddr: GPA + 0x1000n })).toBe(0);
    expect(s.kvm.memslots[0]!.get(0)!.baseGfn).toBe((GPA + 0x1000n) >> 12n);
    // Changing the size or the address of an existing slot is EINVAL.
    expect(s.setRegion({ ...base, memorySize: MB2 * 2n })).toBe(E("EINVAL"));
    expect(s.setRegion({ ...base, guestPhysAddr: GPA + 0x1000n, userspaceAddr: UADDR + MB2 })).toBe(E("EINVAL"));
    // Nothing new: 0; new flags only: FLAGS_ONLY.
    expect(s.setRegion({ ...base, guestPhysAddr: GPA + 0x1000n })).toBe(0);
    expect(s.setRegion({ ...base, guestPhysAddr: GPA + 0x1000n, flags: KVM_MEM_LOG_DIRTY_PAGES })).toBe(0);
    expect(s.kvm.memslots[0]!.get(0)!.flags).toBe(KVM_MEM_LOG_DIRTY_PAGES);
    s.close();
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("a VM of an unknown type is EINVAL; a VM is usable only by its creator's mm (EIO)", () => {
    const m = kvmTestBoot("mainline-vma");
    const kvmFd = m.task.sys.open("/dev/kvm", O_RDWR);
    expect(m.task.sys.ioctl(kvmFd, KVM_CREATE_VM, 42)).toBe(E("EINVAL"));
    expect(m.task.sys.ioctl(kvmFd, KVM_CREATE_VM, new Uint8Array(8))).toBe(E("EINVAL"));
    const s = kvmOpenSession(m.task, KVM_X86_DEFAULT_VM);
    const child = m.kernel.fork({ parent: m.task, comm: "child" });
    expect(child.sys.ioctl(s.vmFd, KVM_SET_USER_MEMORY_REGION, kvmUserspaceMemoryRegion(base))).toBe(E("EIO"));
    m.kernel.exitTask(child, 0);
    s.close();
    m.task.sys.close(kvmFd);
    expect(m.kernel.leakReport().empty).toBe(true);
  });
});

describe.each<KvmPfnVersion>(["yilun-v1", "yilun-v2", "pfn-attachment", "maptype-pal"])("dma-buf slot binding (%s)", (version) => {
  const boot = () => kvmTestBoot(version, version === "maptype-pal" ? { pal: "iommufd,kvm" } : {});
  const slot = (fd: number, over: object = {}) => ({ slot: 0, flags: KVM_MEM_VFIO_DMABUF, guestPhysAddr: GPA, memorySize: MB2, userspaceAddr: 0n, guestMemfd: fd, ...over });

  it.each([
    { desc: "a DEFAULT VM (no private memory) cannot have VFIO_DMABUF slots", vmType: KVM_X86_DEFAULT_VM, errno: "EINVAL" },
    { desc: "GUEST_MEMFD together with VFIO_DMABUF", over: { flags: KVM_MEM_VFIO_DMABUF | KVM_MEM_GUEST_MEMFD }, errno: "EINVAL" },
    { desc: "READONLY with VFIO_DMABUF", over: { flags: KVM_MEM_VFIO_DMABUF | KVM_MEM_READONLY }, errno: "EINVAL" },
    { desc: "guest_memfd_offset ≠ 0", over: { guestMemfdOffset: 0x1000n }, errno: "EINVAL" },
    { desc: "an fd that is not open", fd: 77, errno: "EBADF" },
    { desc: "an fd that is not a dma-buf (the VM fd)", fd: "vm", errno: "EINVAL" },
    { desc: "a slot smaller than the buffer", over: { memorySize: MB2 / 2n }, errno: "EINVAL" },
    { desc: "unaligned userspace_addr (still checked though unused)", over: { userspaceAddr: 0x10n }, errno: "EINVAL" },
  ] as const)("$desc → $errno, nothing behind", ({ vmType, over, fd, errno }) => {
    const m = boot();
    const buf = m.exportMmio(MB2);
    const s = kvmOpenSession(m.task, vmType ?? KVM_X86_SW_PROTECTED_VM);
    buf.priv.sideData.kvm = s.kvm;
    const bufFd = fdOf(m, buf);
    const useFd = fd === "vm" ? s.vmFd : (fd ?? bufFd);
    expect(s.setRegion(slot(useFd, over))).toBe(E(errno));
    expect(buf.attachments.length).toBe(0);
    m.task.sys.close(bufFd);
    expect(buf.file.count).toBe(1);
    s.close();
    dmaBufPut(buf);
    expect(m.kernel.leakReport().empty).toBe(true);
    expect(m.kernel.warnings()).toEqual([]);
  });

  it("a revoked buffer: the exporter's attach refuses it (ENODEV), nothing behind", () => {
    const m = boot();
    const buf = m.exportMmio(MB2, { private: version === "yilun-v1" });
    const s = kvmOpenSession(m.task, KVM_X86_SW_PROTECTED_VM);
    buf.priv.sideData.kvm = s.kvm;
    buf.priv.revoked = true;
    const fd = fdOf(m, buf);
    expect(s.setRegion(slot(fd))).toBe(E("ENODEV"));
    expect(buf.attachments.length).toBe(0);
    s.close();
    m.task.sys.close(fd);
    dmaBufPut(buf);
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it("the fd of another VM's buffer", () => {
    const m = boot();
    const buf = m.exportMmio(MB2, { private: version === "yilun-v1" });
    const s = kvmOpenSession(m.task, KVM_X86_SW_PROTECTED_VM);
    const other = kvmOpenSession(m.task, KVM_X86_SW_PROTECTED_VM);
    buf.priv.sideData.kvm = other.kvm;
    const fd = fdOf(m, buf);
    // v1/v2 ask vfio which VM the device belongs to; the other designs have no such association.
    const expected = version === "yilun-v1" || version === "yilun-v2" ? E("EINVAL") : 0;
    expect(s.setRegion(slot(fd))).toBe(expected);
    s.close();
    other.close();
    m.task.sys.close(fd);
    dmaBufPut(buf);
    expect(m.kernel.leakReport().empty).toBe(true);
  });
});
