// Tests of drivers/dma-buf/dma-buf.c: export validation order, fds and references, dma_buf_mapping_attach.
import { beforeEach, describe, expect, it } from "vitest";
import {
  Device,
  DmaBufLegacyCompat,
  Kernel,
  KernelBug,
  KernelError,
  MAP_SHARED,
  O_CLOEXEC,
  O_RDWR,
  PROT_READ,
  dmaBufAttach,
  dmaBufAttachRevocable,
  dmaBufAttachmentIsDynamic,
  dmaBufDebugShow,
  dmaBufDetach,
  dmaBufDynamicAttach,
  dmaBufExport,
  dmaBufFd,
  dmaBufGet,
  dmaBufInvalidateMappings,
  dmaBufIsDynamic,
  dmaBufMappingAttach,
  dmaBufMatchMapping,
  dmaBufPin,
  dmaBufPut,
  dmaBufUnpin,
  dmaResvLock,
  dmaResvUnlock,
  getDmaBuf,
  type DmaBuf,
  type DmaBufAttachment,
  type DmaBufMappingMatch,
  type DmaBufMappingType,
  type DmaBufOps,
  type KernelModule,
  type LoadedModule,
} from "@dmabuf-sdk/dmabuf-core";

/** A mapping type without match (like PAL) and one with a device payload (like SGT). */
const PLAIN: DmaBufMappingType = {
  name: "Mock Plain",
  finishMatch(args, exp) {
    if (args.attach) args.attach.mapType = { type: PLAIN, expOps: exp.expOps };
  },
};
interface DevData {
  dev?: Device;
  accepts?: boolean;
}
const WITHDEV: DmaBufMappingType<DevData> = {
  name: "Mock Dev",
  finishMatch(args, exp, imp) {
    if (!args.attach) return;
    args.attach.mapType = { type: WITHDEV, expOps: exp.expOps, data: imp.data };
    args.attach.dev = imp.data?.dev ?? null;
    args.attach.peer2peer = !!imp.data?.accepts;
  },
  debugfsDump: (a) => ` ${(a.mapType!.data as DevData).dev?.name ?? ""}`,
};
const plain = (): DmaBufMappingMatch => ({ type: PLAIN });
const withDev = (dev?: Device, accepts = false): DmaBufMappingMatch => ({ type: WITHDEV, data: { dev, accepts } }) as DmaBufMappingMatch;

/** The legacy compat entries, as the SGT package provides them. */
const COMPAT_MODULE: KernelModule = {
  name: "mock_compat",
  license: "GPL",
  init(ctx) {
    ctx.provide(DmaBufLegacyCompat, { importerMatch: (dev, accepts) => withDev(dev, accepts), exporterMatch: { type: WITHDEV, data: {} } as DmaBufMappingMatch });
  },
};

interface Calls {
  log: string[];
}

function exporter(k: Kernel, ops: Partial<DmaBufOps<Calls>> = {}, owner?: LoadedModule): { dmabuf: DmaBuf<Calls>; calls: Calls } {
  const calls: Calls = { log: [] };
  const dmabuf = dmaBufExport<Calls>(k, {
    owner: owner ?? k.modules.vmlinux,
    expName: "mock_exporter",
    ops: {
      singleExporterMatch: plain(),
      release: (d) => d.priv.log.push("release"),
      ...ops,
    },
    size: 0x4000n,
    flags: O_RDWR,
    priv: calls,
  });
  return { dmabuf, calls };
}

describe("dma-buf", () => {
  let k: Kernel;
  beforeEach(() => {
    k = new Kernel();
  });

  describe("dma_buf_export validation (the first failing check decides the errno)", () => {
    const release = () => undefined;
    const map = () => ({});
    const unmap = () => undefined;
    it.each([
      { desc: "no priv", info: { priv: undefined, ops: { release, singleExporterMatch: plain() } }, errno: "EINVAL", warn: true },
      { desc: "no release", info: { ops: { singleExporterMatch: plain() } }, errno: "EINVAL", warn: true },
      { desc: "no release beats no way to map", info: { ops: {} }, errno: "EINVAL", warn: true },
      { desc: "no match and no legacy ops", info: { ops: { release } }, errno: "EINVAL", warn: true },
      { desc: "legacy map without unmap", info: { ops: { release, mapDmaBuf: map } }, errno: "EINVAL", warn: true },
      { desc: "match_mapping plus legacy map", info: { ops: { release, matchMapping: () => undefined, mapDmaBuf: map, unmapDmaBuf: unmap } }, errno: "EINVAL", warn: true },
      { desc: "both match_mapping and single_exporter_match", info: { ops: { release, matchMapping: () => undefined, singleExporterMatch: plain() } }, errno: "EINVAL", warn: true },
      { desc: "pin without unpin", info: { ops: { release, singleExporterMatch: plain(), pin: () => undefined } }, errno: "EINVAL", warn: true },
      { desc: "unpin without pin", info: { ops: { release, singleExporterMatch: plain(), unpin: () => undefined } }, errno: "EINVAL", warn: true },
      { desc: "owner going away", info: { ops: { release, singleExporterMatch: plain() } }, goingOwner: true, errno: "ENOENT", warn: false },
      { desc: "legacy exporter", info: { ops: { release, mapDmaBuf: map, unmapDmaBuf: unmap } }, errno: undefined, warn: false },
      { desc: "single_exporter_match exporter", info: { ops: { release, singleExporterMatch: plain() } }, errno: undefined, warn: false },
      { desc: "match_mapping exporter with pin/unpin", info: { ops: { release, matchMapping: () => undefined, pin: () => undefined, unpin: () => undefined } }, errno: undefined, warn: false },
    ])("$desc → $errno", ({ info, errno, warn, goingOwner }) => {
      let owner = k.modules.vmlinux;
      if (goingOwner) {
        owner = k.loadModule({ name: "gone", license: "GPL" });
        k.unloadModule("gone");
      }
      const full = { owner, size: 4096n, flags: O_RDWR, priv: {}, ...info } as Parameters<typeof dmaBufExport>[1];
      if (errno) {
        expect(() => dmaBufExport(k, full)).toThrow(expect.objectContaining({ errno }));
        expect(k.leakReport().empty).toBe(true);
      } else {
        dmaBufPut(dmaBufExport(k, full));
      }
      expect(k.warnings().length > 0).toBe(warn);
    });

    it("takes a module reference for the buffer's life", () => {
      const m = k.loadModule({ name: "exp", license: "GPL" });
      const { dmabuf } = exporter(k, {}, m);
      expect(m.refcount).toBe(1);
      expect(() => k.unloadModule("exp")).toThrow(expect.objectContaining({ errno: "EAGAIN" }));
      dmaBufPut(dmabuf);
      expect(m.refcount).toBe(0);
      k.unloadModule("exp");
    });
  });

  describe("fds and references", () => {
    it("dma_buf_fd moves the reference to the fd; the last put releases once", () => {
      const { dmabuf, calls } = exporter(k);
      const fd = dmaBufFd(dmabuf, O_CLOEXEC);
      expect(dmabuf.file.count).toBe(1);
      expect(k.init.files.cloexec(fd)).toBe(true);
      const again = dmaBufGet(k, fd);
      expect(again).toBe(dmabuf);
      expect(dmabuf.file.count).toBe(2);
      dmaBufPut(again);
      getDmaBuf(dmabuf);
      expect(k.init.sys.close(fd)).toBe(0);
      expect(calls.log).toEqual([]);
      dmaBufPut(dmabuf);
      expect(calls.log).toEqual(["release"]);
      expect(k.leakReport().empty).toBe(true);
    });

    it.each([
      { desc: "bad fd", setup: () => 42, errno: "EBADF" },
      { desc: "fd of another file", setup: (kk: Kernel) => kk.init.sys.pidfdOpen(1), errno: "EINVAL" },
    ])("dma_buf_get: $desc → $errno", ({ setup, errno }) => {
      const fd = setup(k);
      expect(() => dmaBufGet(k, fd)).toThrow(expect.objectContaining({ errno }));
    });

    it("dma_buf_fd: fd allocation failure keeps the caller's reference (EMFILE)", () => {
      const { dmabuf, calls } = exporter(k);
      k.faults.inject({ site: "get_unused_fd" });
      expect(() => dmaBufFd(dmabuf, 0)).toThrow(expect.objectContaining({ errno: "EMFILE" }));
      expect(dmabuf.file.count).toBe(1);
      dmaBufPut(dmabuf);
      expect(calls.log).toEqual(["release"]);
    });

    it("release actions run before the exporter's release, exactly once", () => {
      const { dmabuf, calls } = exporter(k);
      dmabuf.onRelease(() => calls.log.push("uncharge"));
      const fd = dmaBufFd(dmabuf, 0);
      const child = k.fork({ comm: "child" });
      expect(child.files.lookup(fd)?.privateData).toBe(dmabuf);
      k.init.sys.close(fd);
      expect(calls.log).toEqual([]);
      k.exitTask(child, 0);
      expect(calls.log).toEqual(["uncharge", "release"]);
    });
  });

  describe("dma_buf_mapping_attach", () => {
    it("attaches with the matched type, newest first, and detaches in any order", () => {
      const { dmabuf } = exporter(k, { attach: (d, a) => d.priv.log.push(`attach ${a.mapType!.type.name}`), detach: (d) => d.priv.log.push("detach") });
      const a1 = dmaBufMappingAttach(dmabuf, [plain()]);
      const a2 = dmaBufMappingAttach(dmabuf, [plain()], { invalidateMappings: () => undefined });
      expect(dmabuf.attachments).toEqual([a2, a1]);
      expect(a1.mapType!.type).toBe(PLAIN);
      expect(dmaBufAttachmentIsDynamic(a1)).toBe(false);
      expect(dmaBufAttachmentIsDynamic(a2)).toBe(true);
      dmaBufDetach(dmabuf, a1);
      dmaBufDetach(dmabuf, a2);
      expect(dmabuf.priv.log).toEqual(["attach Mock Plain", "attach Mock Plain", "detach", "detach"]);
      dmaBufPut(dmabuf);
      expect(k.leakReport().empty).toBe(true);
    });

    it("match_mapping runs unlocked with the attachment not yet filled in", () => {
      const seen: unknown[] = [];
      const { dmabuf } = exporter(k, {
        singleExporterMatch: undefined,
        matchMapping(args) {
          seen.push(args.attach!.dmabuf, args.attach!.importerOps, k.lockdep.heldLocks());
          dmaBufMatchMapping(args, [plain()]);
        },
      });
      const ops = { invalidateMappings: () => undefined };
      const a = dmaBufMappingAttach(dmabuf, [plain()], ops, "priv");
      expect(seen).toEqual([null, null, []]);
      expect([a.dmabuf, a.importerOps, a.importerPriv]).toEqual([dmabuf, ops, "priv"]);
      dmaBufDetach(dmabuf, a);
      dmaBufPut(dmabuf);
    });

    it.each([
      { desc: "nothing matches", ops: {}, imp: [withDev()], errno: "EINVAL" },
      { desc: "match_mapping refuses with its own errno", ops: { singleExporterMatch: undefined, matchMapping: () => { throw new KernelError("ENODEV", "mock"); } }, imp: [plain()], errno: "ENODEV" },
      { desc: "match_mapping returns 1 (amdgpu 11/26)", ops: { singleExporterMatch: undefined, matchMapping: (a: Parameters<NonNullable<DmaBufOps["matchMapping"]>>[0]) => (dmaBufMatchMapping(a, [plain()]), 1) as unknown as void }, imp: [plain()], errno: "EINVAL" },
      { desc: "exporter attach refuses", ops: { attach: () => { throw new KernelError("EOPNOTSUPP", "mock_attach"); } }, imp: [plain()], errno: "EOPNOTSUPP" },
      { desc: "allocation fails", ops: {}, imp: [plain()], errno: "ENOMEM", inject: true },
    ])("failure leaves nothing behind: $desc → $errno", ({ ops, imp, errno, inject }) => {
      const { dmabuf } = exporter(k, ops as Partial<DmaBufOps<Calls>>);
      if (inject) k.faults.inject({ what: "dma_buf_attachment" });
      expect(() => dmaBufMappingAttach(dmabuf, imp)).toThrow(expect.objectContaining({ errno }));
      expect(dmabuf.attachments).toEqual([]);
      expect(dmabuf.priv.log).not.toContain("detach");
      dmaBufPut(dmabuf);
      expect(k.leakReport().empty).toBe(true);
    });

    it("must be called without the resv lock", () => {
      const { dmabuf } = exporter(k);
      dmaResvLock(dmabuf.resv);
      expect(() => dmaBufMappingAttach(dmabuf, [plain()])).toThrow(KernelBug);
      dmaResvUnlock(dmabuf.resv);
      dmaBufPut(dmabuf);
    });

    it("detach of a mismatched attachment WARNs and does nothing", () => {
      const { dmabuf } = exporter(k);
      const { dmabuf: other } = exporter(k);
      const a = dmaBufMappingAttach(dmabuf, [plain()]);
      dmaBufDetach(other, a);
      dmaBufDetach(dmabuf, null);
      expect(k.warnings()).toHaveLength(2);
      expect(dmabuf.attachments).toEqual([a]);
      dmaBufDetach(dmabuf, a);
      dmaBufPut(dmabuf);
      dmaBufPut(other);
    });

    it("release with attachments left WARNs", () => {
      const { dmabuf } = exporter(k);
      dmaBufMappingAttach(dmabuf, [plain()]);
      dmaBufPut(dmabuf);
      expect(k.warnings()[0]).toMatch(/1 attachment\(s\) still on dma-buf/);
    });
  });

  describe("legacy wrappers and the compat exporter entry", () => {
    it("without a compat provider, dma_buf_attach finds nothing to match (EINVAL)", () => {
      const { dmabuf } = exporter(k);
      expect(() => dmaBufAttach(dmabuf, new Device(k, "dev0", "platform"))).toThrow(expect.objectContaining({ errno: "EINVAL" }));
      dmaBufPut(dmabuf);
    });

    it.each([
      { desc: "dma_buf_attach is static and never P2P", dynamic: false, allow: false, peer2peer: false },
      { desc: "dma_buf_dynamic_attach without allow_peer2peer", dynamic: true, allow: false, peer2peer: false },
      { desc: "dma_buf_dynamic_attach with allow_peer2peer", dynamic: true, allow: true, peer2peer: true },
    ])("$desc", ({ dynamic, allow, peer2peer }) => {
      k.loadModule(COMPAT_MODULE);
      const legacyMap = () => ({});
      const { dmabuf } = exporter(k, { singleExporterMatch: undefined, mapDmaBuf: legacyMap, unmapDmaBuf: () => undefined });
      const dev = new Device(k, "importer", "platform");
      const a: DmaBufAttachment = dynamic ? dmaBufDynamicAttach(dmabuf, dev, { allowPeer2peer: allow, invalidateMappings: () => undefined }) : dmaBufAttach(dmabuf, dev);
      expect(a.mapType!.type).toBe(WITHDEV);
      expect(a.dev).toBe(dev);
      expect(a.peer2peer).toBe(peer2peer);
      expect(dmaBufAttachmentIsDynamic(a)).toBe(dynamic);
      dmaBufDetach(dmabuf, a);
      dmaBufPut(dmabuf);
    });

    it("dma_buf_dynamic_attach with NULL importer ops is an oops, as the kernel wrapper dereferences them", () => {
      k.loadModule(COMPAT_MODULE);
      const { dmabuf } = exporter(k);
      expect(() => dmaBufDynamicAttach(dmabuf, new Device(k, "d", "platform"), null as never)).toThrow(/NULL pointer dereference/);
      dmaBufPut(dmabuf);
    });
  });

  describe("pin, unpin and invalidation", () => {
    it("pin/unpin assert the resv lock and reach the exporter", () => {
      const { dmabuf } = exporter(k, { pin: (a) => (a.dmabuf as DmaBuf<Calls>).priv.log.push("pin"), unpin: (a) => (a.dmabuf as DmaBuf<Calls>).priv.log.push("unpin") });
      expect(dmaBufIsDynamic(dmabuf)).toBe(true);
      const a = dmaBufMappingAttach(dmabuf, [plain()], { invalidateMappings: () => undefined });
      dmaBufPin(a);
      expect(k.lockdep.reports().map((r) => r.kind)).toEqual(["assert"]);
      dmaResvLock(dmabuf.resv);
      dmaBufPin(a);
      dmaBufUnpin(a);
      dmaResvUnlock(dmabuf.resv);
      expect(dmabuf.priv.log).toEqual(["pin", "pin", "unpin"]);
      dmaBufDetach(dmabuf, a);
      dmaBufPut(dmabuf);
    });

    it("a static importer may not pin: WARN, then the exporter is still called", () => {
      const { dmabuf } = exporter(k, { pin: (a) => (a.dmabuf as DmaBuf<Calls>).priv.log.push("pin"), unpin: () => undefined });
      const a = dmaBufMappingAttach(dmabuf, [plain()]);
      dmaResvLock(dmabuf.resv);
      dmaBufPin(a);
      dmaResvUnlock(dmabuf.resv);
      expect(k.warnings()).toEqual(["dma_buf_pin by a static importer"]);
      expect(dmabuf.priv.log).toEqual(["pin"]);
      dmaBufDetach(dmabuf, a);
      dmaBufPut(dmabuf);
    });

    it("a refused pin propagates the exporter's errno", () => {
      const { dmabuf } = exporter(k, {
        pin: () => {
          throw new KernelError("EOPNOTSUPP", "vfio_pci_dma_buf_pin");
        },
        unpin: () => undefined,
      });
      const a = dmaBufMappingAttach(dmabuf, [plain()], { invalidateMappings: () => undefined });
      dmaResvLock(dmabuf.resv);
      expect(() => dmaBufPin(a)).toThrow(expect.objectContaining({ errno: "EOPNOTSUPP" }));
      dmaResvUnlock(dmabuf.resv);
      dmaBufDetach(dmabuf, a);
      dmaBufPut(dmabuf);
    });

    it("invalidate_mappings asserts resv, visits dynamic attachments newest first, skips static and callback-less ones", () => {
      const { dmabuf } = exporter(k);
      const order: string[] = [];
      const mk = (name: string, cb: boolean) => dmaBufMappingAttach(dmabuf, [plain()], cb ? { invalidateMappings: () => order.push(name) } : {});
      const a = dmaBufMappingAttach(dmabuf, [plain()]);
      const b = mk("b", true);
      const c = mk("c", false);
      const d = mk("d", true);
      expect([a, b, c, d].map(dmaBufAttachRevocable)).toEqual([false, true, false, true]);
      dmaResvLock(dmabuf.resv);
      dmaBufInvalidateMappings(dmabuf);
      dmaResvUnlock(dmabuf.resv);
      expect(order).toEqual(["d", "b"]);
      dmaBufInvalidateMappings(dmabuf);
      expect(k.lockdep.reports().map((r) => r.kind)).toEqual(["assert"]);
      for (const x of [a, b, c, d]) dmaBufDetach(dmabuf, x);
      dmaBufPut(dmabuf);
    });

    it("the invalidate callback runs under the resv lock", () => {
      const { dmabuf } = exporter(k);
      let held: string[] = [];
      const a = dmaBufMappingAttach(dmabuf, [plain()], { invalidateMappings: () => (held = k.lockdep.heldLocks()) });
      dmaResvLock(dmabuf.resv);
      dmaBufInvalidateMappings(dmabuf);
      dmaResvUnlock(dmabuf.resv);
      expect(held).toEqual([dmabuf.resv.lock.name]);
      dmaBufDetach(dmabuf, a);
      dmaBufPut(dmabuf);
    });
  });

  describe("mmap and bufinfo", () => {
    it.each([
      { desc: "exporter without mmap", withMmap: false, len: 0x1000, off: 0n, ret: -22 },
      { desc: "beyond the buffer", withMmap: true, len: 0x2000, off: 0x3000n, ret: -22 },
      { desc: "whole buffer", withMmap: true, len: 0x4000, off: 0n, ret: 0 },
    ])("mmap: $desc", ({ withMmap, len, off, ret }) => {
      const { dmabuf } = exporter(k, withMmap ? { mmap: (d) => d.priv.log.push("mmap") } : {});
      const fd = dmaBufFd(dmabuf, O_RDWR);
      const addr = k.init.sys.mmap(len, PROT_READ, MAP_SHARED, fd, off);
      if (ret) expect(addr).toBe(BigInt(ret));
      else {
        expect(addr > 0n).toBe(true);
        expect(dmabuf.priv.log).toEqual(["mmap"]);
        expect(dmabuf.file.count).toBe(2);
        k.init.sys.munmap(addr, len);
      }
      k.init.sys.close(fd);
      expect(k.leakReport().empty).toBe(true);
    });

    it("bufinfo lists buffers newest first with the negotiated type per attachment", () => {
      k.loadModule(COMPAT_MODULE);
      const { dmabuf: a } = exporter(k);
      const { dmabuf: b } = exporter(k, { singleExporterMatch: { type: WITHDEV, data: {} } as DmaBufMappingMatch });
      b.name = "scanout";
      const dev = new Device(k, "0000:01:00.0", "pci");
      const att1 = dmaBufMappingAttach(b, [withDev(dev)]);
      const att2 = dmaBufMappingAttach(a, [plain()]);
      const text = dmaBufDebugShow(k);
      expect(text).toBe(
        "\nDma-buf Objects:\n" +
          "size    \tflags   \tmode    \tcount   \texp_name\tino     \tname\n" +
          `00016384\t00000002\t00000003\t00000001\tmock_exporter\t${String(b.ino).padStart(8, "0")}\tscanout\n` +
          "\tAttached Devices:\n\tMock Dev: 0000:01:00.0\nTotal 1 devices attached\n\n" +
          `00016384\t00000002\t00000003\t00000001\tmock_exporter\t${String(a.ino).padStart(8, "0")}\t<none>\n` +
          "\tAttached Devices:\n\tMock Plain:\nTotal 1 devices attached\n\n" +
          "\nTotal 2 objects, 32768 bytes\n",
      );
      dmaBufDetach(b, att1);
      dmaBufDetach(a, att2);
      dmaBufPut(a);
      dmaBufPut(b);
    });
  });
});
