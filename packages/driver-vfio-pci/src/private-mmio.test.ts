// Tests vfio-pci's private MMIO dma-bufs (Xu Yilun's RFC 08/12–10/12): no mmap, no mapping type, get_pfn only.
import { describe, expect, it } from "vitest";
import { MAP_SHARED, PROT_READ, PROT_WRITE, dmaBufMappingAttach, dmaResvLock, dmaResvUnlock, KernelError, type KernelModule } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufImappingPal } from "@dmabuf-sdk/map-pal";
import { vfioDmaBufGetData, vfioFileIsValid, vfioFileSetKvm, vfioPciDmabufOps, vfioPciPrivateDmabufOps } from "@dmabuf-sdk/driver-vfio-pci";
import { P, boot, exportBuf, setMemory, teardown } from "@dmabuf-sdk/driver-vfio-pci/testing";
import { expectErrno } from "@dmabuf-sdk/dmabuf-core/testing";

describe("private MMIO (Xu Yilun's RFC 08/12–10/12)", () => {
  it("a private device's dma-buf cannot be mmapped (EINVAL), offers no mapping type (EINVAL at attach), and only get_pfn", () => {
    const e = boot();
    e.vdev.setPrivate(true);
    const { fd, dmabuf, priv } = exportBuf(e, [{ offset: 2n * P, length: 2n * P }, { offset: 0n, length: P }]);
    expect(dmabuf.ops).toBe(vfioPciPrivateDmabufOps);
    expect(priv.isPrivate).toBe(true);
    expectErrno(e.user.sys.mmap(3n * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd), "EINVAL");
    const err = (() => {
      try {
        dmaBufMappingAttach(dmabuf, [dmaBufImappingPal()], { allowPeer2peer: true, invalidateMappings: () => undefined });
      } catch (x) {
        return x as KernelError;
      }
      return undefined;
    })();
    expect(err?.errno).toBe("EINVAL");
    const bar = e.t.exporterSlot.bars[0]!;
    dmaResvLock(dmabuf.resv);
    try {
      expect(dmabuf.ops.getPfn!({ dmabuf } as never, 0n)).toEqual({ pfn: (bar.start >> 12n) + 2n, maxOrder: 0 });
      expect(dmabuf.ops.getPfn!({ dmabuf } as never, 2n)).toEqual({ pfn: bar.start >> 12n, maxOrder: 0 });
      expect(() => dmabuf.ops.getPfn!({ dmabuf } as never, 3n)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
    } finally {
      dmaResvUnlock(dmabuf.resv);
    }
    teardown(e);
  });

  it("a private device's BARs cannot be read or written through the device fd (EINVAL); config space still can", () => {
    const e = boot();
    e.vdev.setPrivate(true);
    const buf = new Uint8Array(4);
    expectErrno(e.user.sys.pread(e.devFd, buf, 0n), "EINVAL");
    expectErrno(e.user.sys.pwrite(e.devFd, buf, 0n), "EINVAL");
    setMemory(e, true);
    e.vdev.setPrivate(false);
    expect(e.user.sys.pread(e.devFd, buf, 0n)).toBe(4);
    teardown(e);
  });

  it("shared MMIO may be both mmapped and reached by get_pfn; revoked get_pfn is ENODEV", () => {
    const e = boot();
    const { fd, dmabuf } = exportBuf(e);
    expect(dmabuf.ops).toBe(vfioPciDmabufOps);
    const addr = e.user.sys.mmap(4n * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    expect(addr > 0n).toBe(true);
    dmaResvLock(dmabuf.resv);
    expect(dmabuf.ops.getPfn!({ dmabuf } as never, 1n).maxOrder).toBe(0);
    dmaResvUnlock(dmabuf.resv);
    setMemory(e, false);
    dmaResvLock(dmabuf.resv);
    expect(() => dmabuf.ops.getPfn!({ dmabuf } as never, 1n)).toThrow(expect.objectContaining({ errno: "ENODEV" }));
    dmaResvUnlock(dmabuf.resv);
    teardown(e);
  });

  it("vfio_dma_buf_get_data: the private flag and VM snapshot at export; EINVAL for foreign buffers; the KVM association comes through vfio_file_set_kvm", () => {
    const e = boot();
    const vm = { vm: 1 };
    const devFile = e.user.files.fget(e.devFd);
    expect(vfioFileIsValid(devFile)).toBe(true);
    const before = exportBuf(e);
    vfioFileSetKvm(devFile, vm);
    e.vdev.setPrivate(true);
    const after = exportBuf(e);
    expect(vfioDmaBufGetData(before.dmabuf)).toEqual({ isPrivate: false, kvm: null });
    expect(vfioDmaBufGetData(after.dmabuf)).toEqual({ isPrivate: true, kvm: vm });
    vfioFileSetKvm(devFile, null);
    expect(e.vdev.kvm).toBeNull();
    devFile.put();
    teardown(e);
  });

  it("vfio exports the three symbols KVM reaches with symbol_get, GPL-only", () => {
    const e = boot();
    const kvm = e.k.modprobe({ name: "kvm", license: "GPL" } satisfies KernelModule);
    for (const name of ["vfio_file_is_valid", "vfio_file_set_kvm", "vfio_dma_buf_get_data"]) {
      expect(e.k.modules.lookup(name)).toEqual({ decl: expect.objectContaining({ name, license: "GPL" }), owner: "vfio-pci" });
      expect(e.k.modules.lookup(name)!.decl.namespace || undefined).toBeUndefined();
      expect(typeof e.k.modules.symbolGet(name, kvm)).toBe("function");
      e.k.modules.symbolPut(name);
    }
    teardown(e);
  });
});
