// Tests the unwind paths of the KVM model with the fault injector: export, VM, dma-buf slot, guest access, teardown.
import { describe, expect, it } from "vitest";
import { KernelError, O_CLOEXEC, dmaBufFd, dmaBufPut, getDmaBuf } from "@dmabuf-sdk/dmabuf-core";
import { KVM_MEM_VFIO_DMABUF, KVM_X86_SW_PROTECTED_VM, type KvmPfnVersion } from "@dmabuf-sdk/kvm";
import { kvmOpenSession, kvmTestBoot, type KvmTestMachine } from "@dmabuf-sdk/kvm/testing";

const GPA = 0x1_0000_0000n;
const SIZE = 0x4000n;

/** Export, VM, slot, one guest load, close everything; whatever step fails, the rest is undone. */
function scenario(m: KvmTestMachine): void {
  const buf = m.exportMmio(SIZE, { private: m.kernel.modules.find("kvm")!.descriptor.description!.includes("yilun-v1") });
  try {
    const s = kvmOpenSession(m.task, KVM_X86_SW_PROTECTED_VM);
    buf.priv.sideData.kvm = s.kvm;
    try {
      const fd = m.kernel.runAs(m.task, () => {
        getDmaBuf(buf);
        try {
          return dmaBufFd(buf, O_CLOEXEC);
        } catch (e) {
          dmaBufPut(buf);
          throw e;
        }
      });
      try {
        const r = s.setRegion({ slot: 0, flags: KVM_MEM_VFIO_DMABUF, guestPhysAddr: GPA, memorySize: SIZE, userspaceAddr: 0n, guestMemfd: fd });
        if (r < 0) throw new KernelError("ENOMEM", "KVM_SET_USER_MEMORY_REGION2", String(r));
        const got = s.read(GPA, 8);
        if (typeof got === "number") throw new KernelError("EIO", "KVM_RUN", String(got));
      } finally {
        m.task.sys.close(fd);
      }
    } finally {
      s.close();
    }
  } finally {
    dmaBufPut(buf);
  }
}

describe.each<KvmPfnVersion>(["yilun-v1", "yilun-v2", "pfn-attachment", "maptype-pal"])("fault injection over the dma-buf slot path (%s)", (version) => {
  const boot = () => kvmTestBoot(version, version === "maptype-pal" ? { pal: "iommufd,kvm" } : {});
  const clean = boot();
  clean.kernel.faults.reset();
  scenario(clean);
  const attempts = clean.kernel.faults.records();

  it("reaches the KVM allocation sites", () => {
    expect(attempts.map((r) => r.what)).toEqual(expect.arrayContaining(["kvm", "kvm_vcpu", "kvm_memory_slot", "kvm_vfio_dmabuf", "dma_buf_attachment"]));
    expect(clean.kernel.leakReport().empty).toBe(true);
  });

  it.each(attempts.map((r) => ({ nth: r.nth, site: r.site, what: r.what })))("failing attempt $nth ($site: $what) unwinds completely", ({ nth }) => {
    const m = boot();
    m.kernel.faults.reset();
    m.kernel.faults.failNth(nth);
    let err: unknown;
    try {
      scenario(m);
    } catch (e) {
      err = e;
    }
    expect(m.kernel.faults.failures).toBe(1);
    expect(err).toBeInstanceOf(KernelError);
    expect(m.kernel.leakReport().text()).toBe("");
    expect(m.kernel.lockdep.reports()).toEqual([]);
    expect(m.kernel.warnings()).toEqual([]);
    expect(m.kernel.oopses()).toEqual([]);
  });
});
