// Integration: the IOV path with the real exporter: vfio-pci bound to a VF exports its LMEM BAR (VFIO_DEVICE_FEATURE_DMA_BUF) and the Xe PF imports it.
import { describe, expect, it } from "vitest";
import { DmaFault, O_CLOEXEC, O_RDWR, dmaBufGet, dmaBufPut, errnoName, type DmaBuf } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufMappingIovType } from "@dmabuf-sdk/map-iov";
import { dmaBufMappingSgtType, dmaBufSgtRoute } from "@dmabuf-sdk/map-sgt";
import {
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_DMA_BUF,
  VFIO_DEVICE_FEATURE_GET,
  vfioDeviceFeature,
  vfioDeviceFeatureDmaBuf,
  vfioPciIndexToOffset,
  vfioWritePowerState,
  type VfioPciDmaBuf,
  type VfioRegionDmaRange,
} from "@dmabuf-sdk/driver-vfio-pci";
import { LMEM_BAR, xeBoAddr, xeBoPut, xeGemPrimeImport, xeGpuDmaRead, xeGtSriovPfConfigSetLmem, xeVmBind, xeVmCreate, xeVmDestroy, xeVmRead, xeVmRebind, xeVmWrite, type XeBo } from "@dmabuf-sdk/driver-xe";
import { bootSriov, bytes, teardown } from "@dmabuf-sdk/driver-xe/testing";
import { vfioOpen as vfioOpenDevice } from "@dmabuf-sdk/driver-vfio-pci/testing";

const MiB = 1n << 20n;
const VA = 0x20_0000_0000n;

type Sriov = ReturnType<typeof bootSriov>;

/** vfio-pci on VF1, opened by a VMM process. */
function vfioOpen(m: Sriov) {
  const { k } = m;
  const { user: vmm, devFd } = vfioOpenDevice(k, m.vfs[0]!);
  /** Ends the VMM (closing its buffer fds and the device). */
  const exit = (): void => {
    k.exitTask(vmm, 0);
    k.clock.flush();
  };
  return {
    /** Exports `ranges` of the VF's LMEM BAR; on failure the VMM exits and the errno is thrown. */
    export(ranges: readonly VfioRegionDmaRange[]) {
      const fd = vmm.sys.ioctl(devFd, VFIO_DEVICE_FEATURE, vfioDeviceFeature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF, vfioDeviceFeatureDmaBuf({ regionIndex: LMEM_BAR, openFlags: O_RDWR | O_CLOEXEC, ranges })));
      if (fd < 0) {
        exit();
        throw new Error(`VFIO_DEVICE_FEATURE_DMA_BUF: ${errnoName(fd)}`);
      }
      const dmabuf = k.runAs(vmm, () => dmaBufGet(k, fd)) as DmaBuf<VfioPciDmaBuf>;
      return {
        dmabuf,
        /** The guest writes through the VF's BAR (the device fd's BAR region). */
        write(barOff: bigint, data: Uint8Array) {
          expect(vmm.sys.pwrite(devFd, data, vfioPciIndexToOffset(LMEM_BAR) + barOff)).toBe(data.length);
        },
        power(state: "D0" | "D3hot") {
          expect(vfioWritePowerState(vmm, devFd, state)).toBe(2);
        },
        /** Drops the test's reference and ends the VMM. */
        close() {
          dmaBufPut(dmabuf);
          exit();
        },
      };
    },
  };
}

const vfioExport = (m: Sriov, ranges: readonly VfioRegionDmaRange[]) => vfioOpen(m).export(ranges);

function bind(m: Sriov, bo: XeBo) {
  const vm = xeVmCreate(m.xe);
  try {
    xeVmBind(vm, bo, VA, 0n, bo.size);
  } catch (e) {
    xeVmDestroy(vm);
    throw e;
  }
  return vm;
}

function finish(m: Sriov): void {
  m.k.unloadModule("vfio-pci");
  expect(teardown(m.k)).toBe("");
  expect([m.k.warnings(), m.k.lockdep.reports(), m.k.oopses()]).toEqual([[], [], []]);
}

describe("vfio-pci (VF) → Xe (its PF) over IOV", () => {
  it("negotiates IOV; the PF's GPU reads and writes the VF's bytes by DPA inside VF1's quota; everything is given back", () => {
    const m = bootSriov();
    const v = vfioExport(m, [{ offset: 2n * MiB, length: 0x4000n }, { offset: 0n, length: 0x2000n }]);
    v.write(2n * MiB, bytes(0x4000, 1));
    v.write(0n, bytes(0x2000, 2));
    const bo = xeGemPrimeImport(m.xe, v.dmabuf);
    const vm = bind(m, bo);
    expect(bo.import!.attach!.mapType!.type).toBe(dmaBufMappingIovType);
    const quota = m.xe.sriovPf!.configs[1]!.lmemObj!;
    expect(bo.dmaData.dmaAddr!.map((d) => d.addr)).toEqual([xeBoAddr(quota, 2n * MiB, 4096), xeBoAddr(quota, 0n, 4096)]);
    expect([v.dmabuf.priv.outstandingMaps, quota.kref.refcount, m.k.objects.count("dma_buf_iov_ranges")]).toEqual([1, 2, 1]);
    expect(xeGpuDmaRead(m.xe, { dpa: bo.dmaData.dmaAddr![0]!.addr }, 0x4000)).toEqual(bytes(0x4000, 1));
    expect(xeVmRead(vm, VA, 0x6000)).toEqual(Uint8Array.from([...bytes(0x4000, 1), ...bytes(0x2000, 2)]));
    xeVmWrite(vm, VA + 0x4000n, bytes(0x1000, 3));
    expect(m.k.platform.physmem.read(m.vfs[0]!.bars[LMEM_BAR]!.start, 0x1000)).toEqual(bytes(0x1000, 3));
    xeVmDestroy(vm);
    xeBoPut(bo);
    expect([v.dmabuf.priv.outstandingMaps, quota.kref.refcount, m.k.objects.count("dma_buf_iov_ranges"), m.k.objects.count("drm_pagemap_addr")]).toEqual([0, 1, 0, 0]);
    v.close();
    finish(m);
  });

  it("D3hot on the VF revokes: the PF drops its DPAs (the GPU faults), the rebind is refused with ENODEV and the import falls back to SGT for good; after D0 it maps over P2P", () => {
    const m = bootSriov();
    const v = vfioExport(m, [{ offset: 0n, length: 0x2000n }]);
    v.write(0n, bytes(0x2000, 4));
    const bo = xeGemPrimeImport(m.xe, v.dmabuf);
    const vm = bind(m, bo);
    v.power("D3hot");
    expect([bo.dmaData.dmaAddr, v.dmabuf.priv.status, v.dmabuf.priv.outstandingMaps]).toEqual([null, "VFIO_PCI_DMA_BUF_TEMP_REVOKED", 0]);
    expect(() => xeVmRead(vm, VA, 64)).toThrow(DmaFault);
    expect(() => xeVmRebind(vm)).toThrow(expect.objectContaining({ errno: "ENODEV" }));
    expect(bo.import!.iovFallback?.errno).toBe("ENODEV");
    v.power("D0");
    xeVmRebind(vm);
    expect([bo.import!.attach!.mapType!.type, dmaBufSgtRoute(bo.import!.sg!)]).toEqual([dmaBufMappingSgtType, "bus-addr"]);
    expect(xeVmRead(vm, VA, 0x2000)).toEqual(bytes(0x2000, 4));
    xeVmDestroy(vm);
    xeBoPut(bo);
    v.close();
    finish(m);
  });

  it("a VF exporting LMEM beyond its provisioned quota: the PF refuses the translation (EINVAL) and falls back to SGT, whose reads fault (nothing decodes there)", () => {
    const m = bootSriov();
    xeGtSriovPfConfigSetLmem(m.xe, 1, 8n * MiB);
    const v = vfioExport(m, [{ offset: 16n * MiB, length: 0x2000n }]);
    const bo = xeGemPrimeImport(m.xe, v.dmabuf);
    const vm = bind(m, bo);
    expect([bo.import!.attach!.mapType!.type, bo.import!.iovFallback?.errno, m.k.objects.count("dma_buf_iov_ranges")]).toEqual([dmaBufMappingSgtType, "EINVAL", 0]);
    expect(() => xeVmRead(vm, VA, 64)).toThrow(DmaFault);
    xeVmDestroy(vm);
    xeBoPut(bo);
    expect(v.dmabuf.priv.outstandingMaps).toBe(0);
    v.close();
    finish(m);
  });

  it("fault injection over export + import + IOV map + translate + bind: ENOMEM (EMFILE for the fd), or the SGT fallback, never a leak", () => {
    const run = (m: Sriov, arm: () => void): string => {
      const dev = vfioOpen(m);
      arm();
      const v = dev.export([{ offset: 0n, length: 0x3000n }]);
      try {
        v.write(0n, bytes(0x3000, 5));
        const bo = xeGemPrimeImport(m.xe, v.dmabuf);
        try {
          const vm = bind(m, bo);
          try {
            expect(xeVmRead(vm, VA, 0x3000)).toEqual(bytes(0x3000, 5));
            return bo.import!.iovFallback ? "fallback" : "iov";
          } finally {
            xeVmDestroy(vm);
          }
        } finally {
          xeBoPut(bo);
        }
      } finally {
        v.close();
      }
    };
    const probe = bootSriov();
    expect(run(probe, () => probe.k.faults.reset())).toBe("iov");
    const n = probe.k.faults.attempts;
    finish(probe);
    expect(n).toBeGreaterThan(3);
    const outcomes = new Set<string>();
    for (let i = 1; i <= n; i++) {
      const m = bootSriov();
      try {
        outcomes.add(
          run(m, () => {
            m.k.faults.reset();
            m.k.faults.failNth(i);
          }),
        );
      } catch (e) {
        // An allocation fails with ENOMEM; the fd slot (get_unused_fd_flags) with EMFILE.
        const err = `${(e as Error).message} ${(e as { errno?: string }).errno ?? ""}`;
        expect(err).toMatch(/ENOMEM|EMFILE/);
        outcomes.add(/EMFILE/.test(err) ? "EMFILE" : "ENOMEM");
      }
      m.k.faults.reset();
      finish(m);
    }
    expect(outcomes).toEqual(new Set(["EMFILE", "ENOMEM", "fallback"]));
  });
});
