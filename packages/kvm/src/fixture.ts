// The kvm importer columns of the conformance matrix: one per design, a VM whose memslot is backed by the exported buffer.
import {
  KernelError,
  MAP_SHARED,
  O_CLOEXEC,
  PROT_READ,
  PROT_WRITE,
  dmaBufFd,
  errnoName,
  getDmaBuf,
  withGetters,
  type ConformanceFixtures,
  type DmaBufAttachment,
  type Errno,
  type ImportedBuffer,
  type ImporterFixture,
  type KernelModule,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufPalModuleBuild } from "@dmabuf-sdk/map-pal";
import { KVM_MEM_VFIO_DMABUF, KVM_X86_DEFAULT_VM, KVM_X86_SW_PROTECTED_VM } from "./kvm-uapi.js";
import { KVM_PFN_VERSIONS, type KvmPfnVersion } from "./kvm-version.js";
import { kvmModuleBuild } from "./module.js";
import { kvmOpenSession } from "./testing/session.js";

/** Where the fixtures put the buffer in guest physical space (above 4 GiB). @public */
export const KVM_FIXTURE_GPA = 0x1_0000_0000n;

function fail(ret: number | bigint, op: string): never {
  throw new KernelError(errnoName(Number(ret)) ?? "EIO", op, `returned ${ret}`);
}

/** The errno a guest access gets while the exporter is revoked: `EIO` for dma-buf slots (RFC 06/12), `EFAULT` for an hva slot whose VMA refuses. @public */
export function kvmRevokedErrno(version: KvmPfnVersion): Errno {
  return version === "mainline-vma" ? "EFAULT" : "EIO";
}

/**
 * The importer fixture of one KVM design. `import`: a VM (DEFAULT for
 * mainline, SW_PROTECTED for the dma-buf slot, which needs private memory)
 * and slot 0 at 4 GiB over the whole buffer — mainline through an mmap of the
 * dma-buf (the `mmap` errno when the exporter refuses), the others with
 * `KVM_MEM_VFIO_DMABUF` (the bind's errno). `map`: the guest touches every
 * page (`KVM_RUN`); `dmaRead`/`dmaWrite`: guest loads and stores;
 * `unmap`: the slot is deleted (KVM has no other way to give a mapping back).
 * `pal` names the PAL build the case loads (`maptype-pal` only).
 * @public
 */
export function kvmImporterFixture(version: KvmPfnVersion, pal?: string): ImporterFixture {
  const name = version === "mainline-vma" ? "kvm" : `kvm-${version}${pal ? `-${pal.replace(/,/g, "+")}` : ""}`;
  return {
    name,
    description: `KVM (${version}${pal ? `, PAL for "${pal}"` : ""}): the buffer as a memslot, accessed by a vCPU through stage-2`,
    get modules(): readonly KernelModule[] {
      return [...(pal ? [dmaBufPalModuleBuild(pal)] : []), kvmModuleBuild(version)];
    },
    placeable: () => true,
    import(ctx, buffer): ImportedBuffer {
      const k = ctx.kernel;
      const task = ctx.task;
      const sys = task.sys;
      const dmabuf = buffer.dmabuf;
      const size = dmabuf.size;
      const s = kvmOpenSession(task, version === "mainline-vma" ? KVM_X86_DEFAULT_VM : KVM_X86_SW_PROTECTED_VM);
      const fd = k.runAs(task, () => {
        getDmaBuf(dmabuf);
        return dmaBufFd(dmabuf, O_CLOEXEC);
      });
      let uaddr = 0n;
      let slotLive = false;
      const createSlot = (): void => {
        const r = version === "mainline-vma" ? s.setRegion({ slot: 0, flags: 0, guestPhysAddr: KVM_FIXTURE_GPA, memorySize: size, userspaceAddr: uaddr }) : s.setRegion({ slot: 0, flags: KVM_MEM_VFIO_DMABUF, guestPhysAddr: KVM_FIXTURE_GPA, memorySize: size, userspaceAddr: 0n, guestMemfd: fd });
        if (r < 0) fail(r, "KVM_SET_USER_MEMORY_REGION2");
        slotLive = true;
      };
      try {
        if (version === "mainline-vma") {
          const a = sys.mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
          if (a < 0n) fail(a, "mmap");
          uaddr = a;
        }
        createSlot();
      } catch (e) {
        if (uaddr) sys.munmap(uaddr, size);
        sys.close(fd);
        s.close();
        throw e;
      }
      const slotOf = () => s.kvm.memslots[0]!.get(0);
      const att: DmaBufAttachment | null = slotOf()?.backend.attachment() ?? null;
      const check = (r: Uint8Array | number, op: string): Uint8Array => (typeof r === "number" ? fail(r, op) : r);
      const view: Omit<ImportedBuffer, "mapped"> = {
        attachment: att,
        revokedErrno: kvmRevokedErrno(version),
        map() {
          if (!slotLive) createSlot();
          for (let off = 0n; off < size; off += 4096n) check(s.read(KVM_FIXTURE_GPA + off, 1), "KVM_RUN");
        },
        route: () => undefined,
        dmaRead: (offset, len) => check(s.read(KVM_FIXTURE_GPA + offset, len), "KVM_RUN"),
        dmaWrite(offset, data) {
          const r = s.write(KVM_FIXTURE_GPA + offset, data);
          if (r < 0) fail(r, "KVM_RUN");
        },
        unmap() {
          if (!slotLive) return;
          const r = s.setRegion({ slot: 0, flags: version === "mainline-vma" ? 0 : KVM_MEM_VFIO_DMABUF, guestPhysAddr: KVM_FIXTURE_GPA, memorySize: 0n, userspaceAddr: uaddr });
          if (r < 0) fail(r, "KVM_SET_USER_MEMORY_REGION2 (delete)");
          slotLive = false;
        },
        detach() {
          s.close();
          if (uaddr) sys.munmap(uaddr, size);
          sys.close(fd);
        },
      };
      return withGetters(view, { mapped: () => s.kvm.sharedRoot.size > 0 });
    },
  };
}

/** One column per design; `maptype-pal` twice: with the kernel's PAL (iommufd only) and with a PAL whose list names kvm. @public */
export const kvmImporterFixtures: readonly ImporterFixture[] = [
  ...KVM_PFN_VERSIONS.filter((v) => v !== "maptype-pal").map((v) => kvmImporterFixture(v)),
  kvmImporterFixture("maptype-pal", "iommufd"),
  kvmImporterFixture("maptype-pal", "iommufd,kvm"),
];

/** What the kvm package offers the conformance matrix. @public */
export const kvmFixtures: ConformanceFixtures = {
  package: "@dmabuf-sdk/kvm",
  exporters: [],
  importers: kvmImporterFixtures,
};
