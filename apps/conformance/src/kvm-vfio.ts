// Scenarios where KVM meets vfio-pci only through dma-buf (kvm-pfn.md): the associated v1/v2 flows, private MMIO, and every revoke trigger zapping stage-2.
import {
  KernelError,
  MAP_SHARED,
  O_CLOEXEC,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  errnoName,
  type ConformanceScenario,
  type FixtureContext,
  type KernelModule,
} from "@dmabuf-sdk/dmabuf-core";
import {
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_DMA_BUF,
  VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_SET,
  VFIO_DEVICE_PCI_HOT_RESET,
  VFIO_DEVICE_RESET,
  VfioPciDriver,
  largestMemBar,
  vfioDeviceFeature,
  vfioDeviceFeatureDmaBuf,
  vfioDeviceFeatureDmaBufRevoke,
  vfioPciHotReset,
  vfioPciIndexToOffset,
  vfioPciModule,
  vfioPciProbe,
  vfioWriteCommand,
  vfioWritePowerState,
  type VfioPciCoreDevice,
} from "@dmabuf-sdk/driver-vfio-pci";
import { KVM_EXIT_MEMORY_FAULT, KVM_MEM_VFIO_DMABUF, KVM_MEMORY_ATTRIBUTE_PRIVATE, KVM_MEMORY_EXIT_FLAG_PRIVATE, KVM_X86_TDX_VM, kvmModuleBuild, type KvmPfnVersion } from "@dmabuf-sdk/kvm";
import { kvmOpenSession, type KvmSession } from "@dmabuf-sdk/kvm/testing";

const GPA = 0x1_0000_0000n;
const SIZE = 0x4000n;

class Mismatch extends Error {}

function want(cond: boolean, what: string): void {
  if (!cond) throw new Mismatch(what);
}

/** The VMM of a case: the vfio device fd, a TDX VM associated with it through KVM-VFIO, and a dma-buf of the BAR's first pages. */
interface Vmm {
  readonly ctx: FixtureContext;
  readonly vdev: VfioPciCoreDevice;
  readonly devFd: number;
  readonly s: KvmSession;
  exportFd(): number;
  close(): void;
}

function vmm(ctx: FixtureContext, opts: { private?: boolean; associate?: boolean } = {}): Vmm {
  const k = ctx.kernel;
  const sys = ctx.task.sys;
  const pdev = ctx.topology.exporterSlot;
  const vdev = k.providers(VfioPciDriver)[0]?.devices.find((d) => d.pdev === pdev) ?? vfioPciProbe(k, pdev);
  if (opts.private) vdev.setPrivate(true);
  const devFd = sys.open(vdev.cdevPath, O_RDWR);
  if (devFd < 0) throw new KernelError(errnoName(devFd) ?? "EIO", "open vfio");
  const s = kvmOpenSession(ctx.task, KVM_X86_TDX_VM);
  if (opts.associate !== false) want(s.addVfioFile(devFd) === 0, "KVM_DEV_VFIO_FILE_ADD failed");
  const bar = largestMemBar(pdev)!;
  return {
    ctx,
    vdev,
    devFd,
    s,
    exportFd() {
      const fd = sys.ioctl(devFd, VFIO_DEVICE_FEATURE, vfioDeviceFeature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF, vfioDeviceFeatureDmaBuf({ regionIndex: bar.index, openFlags: O_RDWR | O_CLOEXEC, ranges: [{ offset: 0n, length: SIZE }] })));
      if (fd < 0) throw new KernelError(errnoName(fd) ?? "EIO", "VFIO_DEVICE_FEATURE_DMA_BUF");
      return fd;
    },
    close() {
      s.close();
      sys.close(devFd);
      vdev.setPrivate(false);
    },
  };
}

/** Writes a pattern at the BAR and checks the guest reads it through its slot (shared or private). */
function guestSeesBar(v: Vmm, priv: boolean, tag: number): void {
  const bar = largestMemBar(v.ctx.topology.exporterSlot)!;
  v.ctx.kernel.platform.physmem.write(bar.start + 0x1000n, Uint8Array.of(tag, tag + 1));
  const got = v.s.read(GPA + 0x1000n, 2, priv);
  want(got instanceof Uint8Array && got[0] === tag && got[1] === tag + 1, `guest read ${typeof got === "number" ? errnoName(got) : Array.from(got).join(",")} instead of the BAR's bytes`);
}

function bindSlot(v: Vmm, fd: number): number {
  return v.s.setRegion({ slot: 0, flags: KVM_MEM_VFIO_DMABUF, guestPhysAddr: GPA, memorySize: SIZE, userspaceAddr: 0n, guestMemfd: fd });
}

function scenario(name: string, description: string, version: KvmPfnVersion, run: (ctx: FixtureContext) => string): ConformanceScenario {
  return {
    name: `kvm/${name}`,
    description,
    get modules(): readonly KernelModule[] {
      return [vfioPciModule, kvmModuleBuild(version)];
    },
    topology: "same-switch",
    run(ctx) {
      try {
        return { outcome: run(ctx) };
      } catch (e) {
        if (e instanceof Mismatch) return { outcome: "mismatch", details: { what: e.message } };
        throw e;
      }
    },
  };
}

/** A revoke trigger of vfio-pci and whether the device comes back by itself (resets) or needs `restore`. */
interface Trigger {
  readonly name: string;
  readonly revoke: (v: Vmm) => void;
  /** Undoes a lasting revoke; absent when the trigger un-revokes by itself (resets). */
  readonly restore?: (v: Vmm) => void;
}

const TRIGGERS: readonly Trigger[] = [
  { name: "memory-disable", revoke: (v) => want(vfioWriteCommand(v.ctx.task, v.devFd, false) === 2, "PCI_COMMAND write"), restore: (v) => want(vfioWriteCommand(v.ctx.task, v.devFd, true) === 2, "PCI_COMMAND write") },
  { name: "d3hot", revoke: (v) => want(vfioWritePowerState(v.ctx.task, v.devFd, "D3hot") === 2, "PMCSR write"), restore: (v) => want(vfioWritePowerState(v.ctx.task, v.devFd, "D0") === 2, "PMCSR write") },
  { name: "device-reset", revoke: (v) => want(v.ctx.task.sys.ioctl(v.devFd, VFIO_DEVICE_RESET) === 0, "VFIO_DEVICE_RESET") },
  { name: "hot-reset", revoke: (v) => want(v.ctx.task.sys.ioctl(v.devFd, VFIO_DEVICE_PCI_HOT_RESET, vfioPciHotReset()) === 0, "VFIO_DEVICE_PCI_HOT_RESET") },
];

/**
 * vfio-pci revoke triggers against a v2 slot: each zaps the VM's stage-2
 * (through invalidate_mappings under the resv lock, seq++); a lasting revoke
 * makes the guest's access fail with -EIO, restore maps again; a reset
 * un-revokes by itself and the next access faults the BAR in again.
 */
function revokeScenario(t: Trigger): ConformanceScenario {
  return scenario(`vfio-v2-revoke-${t.name}`, `vfio-pci ${t.name} zaps KVM's stage-2 (v2 dma-buf slot); guest accesses exit until the BAR is back`, "yilun-v2", (ctx) => {
    const v = vmm(ctx);
    const fd = v.exportFd();
    try {
      want(bindSlot(v, fd) === 0, "bind");
      guestSeesBar(v, false, 0x11);
      const seq = v.s.kvm.mmuInvalidateSeq;
      t.revoke(v);
      want(v.s.kvm.sharedRoot.size === 0, "stage-2 not zapped");
      want(v.s.kvm.mmuInvalidateSeq > seq, "mmu_invalidate_seq not bumped");
      if (t.restore) {
        const r = v.s.read(GPA, 4);
        want(r === -5, `guest access while revoked: ${typeof r === "number" ? errnoName(r) : "reached the BAR"}`);
        want(v.s.kvm.sharedRoot.size === 0, "revoked BAR mapped");
        t.restore(v);
      }
      guestSeesBar(v, false, 0x22);
      return "ok";
    } finally {
      ctx.task.sys.close(fd);
      v.close();
    }
  });
}

/** The scenarios the app runs when both vfio-pci and kvm are loaded. */
export const KVM_VFIO_SCENARIOS: readonly ConformanceScenario[] = [
  scenario("vfio-v2-associated", "v2: KVM_DEV_VFIO_FILE_ADD before the export; the slot binds and the guest reads and writes the BAR", "yilun-v2", (ctx) => {
    const v = vmm(ctx);
    const fd = v.exportFd();
    try {
      want(bindSlot(v, fd) === 0, "bind");
      guestSeesBar(v, false, 0x31);
      want(v.s.write(GPA + 0x2000n, Uint8Array.of(0x77)) === 0, "guest write");
      const bar = largestMemBar(ctx.topology.exporterSlot)!;
      want(ctx.kernel.platform.physmem.read(bar.start + 0x2000n, 1)[0] === 0x77, "guest write did not reach the BAR");
      return "ok";
    } finally {
      ctx.task.sys.close(fd);
      v.close();
    }
  }),
  scenario("vfio-v2-not-associated", "v2: a buffer exported before the device was added to the VM carries kvm = NULL", "yilun-v2", (ctx) => {
    const v = vmm(ctx, { associate: false });
    const fd = v.exportFd();
    try {
      return errnoName(bindSlot(v, fd)) ?? "ok";
    } finally {
      ctx.task.sys.close(fd);
      v.close();
    }
  }),
  scenario("vfio-v2-other-vm", "v2: the fd of a buffer associated with another VM", "yilun-v2", (ctx) => {
    const v = vmm(ctx);
    const fd = v.exportFd();
    const other = kvmOpenSession(ctx.task, KVM_X86_TDX_VM);
    try {
      return errnoName(other.setRegion({ slot: 0, flags: KVM_MEM_VFIO_DMABUF, guestPhysAddr: GPA, memorySize: SIZE, userspaceAddr: 0n, guestMemfd: fd })) ?? "ok";
    } finally {
      other.close();
      ctx.task.sys.close(fd);
      v.close();
    }
  }),
  scenario("vfio-v1-shared", "v1: a shared device's buffer is refused", "yilun-v1", (ctx) => {
    const v = vmm(ctx);
    const fd = v.exportFd();
    try {
      return errnoName(bindSlot(v, fd)) ?? "ok";
    } finally {
      ctx.task.sys.close(fd);
      v.close();
    }
  }),
  scenario("vfio-v1-private", "v1: a private device's buffer maps into the VM's private root and never into user space; a revoke is EIO with a private memory-fault exit", "yilun-v1", (ctx) => {
    const v = vmm(ctx, { private: true });
    const fd = v.exportFd();
    const sys = ctx.task.sys;
    try {
      const m = sys.mmap(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
      want(m === -22n, `VMM mmap of the private buffer: ${m}`);
      const bar = largestMemBar(ctx.topology.exporterSlot)!;
      want(sys.pread(v.devFd, new Uint8Array(4), vfioPciIndexToOffset(bar.index)) === -22, "device-fd BAR read of a private device");
      want(bindSlot(v, fd) === 0, "bind");
      want(v.s.setAttributes(GPA, SIZE, KVM_MEMORY_ATTRIBUTE_PRIVATE) === 0, "KVM_SET_MEMORY_ATTRIBUTES");
      guestSeesBar(v, true, 0x41);
      want(v.s.kvm.privateRoot.size === 1 && v.s.kvm.sharedRoot.size === 0, "not in the private root");
      want(vfioWriteCommand(ctx.task, v.devFd, false) === 2, "PCI_COMMAND write");
      want(v.s.read(GPA + 0x1000n, 2, true) === -5, "private access while revoked is not EIO");
      const mf = v.s.vcpu.run.memoryFault;
      want(v.s.vcpu.run.exitReason === KVM_EXIT_MEMORY_FAULT && mf?.flags === KVM_MEMORY_EXIT_FLAG_PRIVATE && mf.gpa === GPA + 0x1000n && mf.size === 4096n, "memory-fault exit not filled in");
      want(vfioWriteCommand(ctx.task, v.devFd, true) === 2, "PCI_COMMAND write");
      guestSeesBar(v, true, 0x42);
      return "ok";
    } finally {
      sys.close(fd);
      v.close();
    }
  }),
  ...TRIGGERS.map(revokeScenario),
  scenario("vfio-v2-revoke-feature", "VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE: permanent; stage-2 zapped, the guest gets EIO for good", "yilun-v2", (ctx) => {
    const v = vmm(ctx);
    const fd = v.exportFd();
    try {
      want(bindSlot(v, fd) === 0, "bind");
      guestSeesBar(v, false, 0x51);
      want(ctx.task.sys.ioctl(v.devFd, VFIO_DEVICE_FEATURE, vfioDeviceFeature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE, vfioDeviceFeatureDmaBufRevoke(fd))) === 0, "REVOKE");
      want(v.s.kvm.sharedRoot.size === 0, "stage-2 not zapped");
      return errnoName(v.s.read(GPA, 4) as number) ?? "reached";
    } finally {
      ctx.task.sys.close(fd);
      v.close();
    }
  }),
  scenario("vfio-v2-close", "closing the vfio device revokes for good (KVM zaps); the slot keeps the dma-buf, the guest gets EIO, DELETE drops the last reference; nothing leaks", "yilun-v2", (ctx) => {
    const v = vmm(ctx);
    const fd = v.exportFd();
    try {
      want(bindSlot(v, fd) === 0, "bind");
      ctx.task.sys.close(fd);
      guestSeesBar(v, false, 0x61);
      want(v.s.delVfioFile(v.devFd) === 0, "KVM_DEV_VFIO_FILE_DEL");
      want(ctx.task.sys.close(v.devFd) === 0, "close of the device fd");
      want(v.vdev.openCount === 0, "device still open");
      want(v.s.kvm.sharedRoot.size === 0, "stage-2 not zapped at close");
      const r = v.s.read(GPA, 4);
      want(r === -5, `guest access after close: ${typeof r === "number" ? errnoName(r) : "reached the BAR"}`);
      want(v.s.setRegion({ slot: 0, flags: KVM_MEM_VFIO_DMABUF, guestPhysAddr: GPA, memorySize: 0n, userspaceAddr: 0n }) === 0, "DELETE");
      return "ok";
    } finally {
      v.s.close();
    }
  }),
];
