// drivers/dma-buf/dma-buf.c: struct dma_buf, export, fd, attach/detach, pin, invalidation and mmap.
import type { InjectionToken } from "tsyringe";
import { KernelBug, KernelError } from "../kernel/kernel-error.js";
import type { Kernel } from "../kernel/kernel.js";
import type { LoadedModule } from "../kernel/module.js";
import type { Device } from "../platform/device.js";
import type { DmaDataDirection } from "../platform/dma-mapping.js";
import { PAGE_SHIFT } from "../platform/page.js";
import { File, O_ACCMODE, O_NONBLOCK, type FileOperations } from "../uapi/file.js";
import type { VmArea } from "../uapi/mm.js";
import type { UserArg } from "../uapi/user-buffer.js";
import { dmaBufIoctl, dmaBufPoll } from "./dma-buf-ioctl.js";
import { dmaBufMatchMapping, type DmaBufMappingMatch, type DmaBufMatchArgs } from "./dma-buf-mapping.js";
import type { DmaFenceCb } from "./dma-fence.js";
import { DmaResv, dmaResvAssertHeld, dmaResvFini, dmaResvLock, dmaResvUnlock } from "./dma-resv.js";

/**
 * `struct dma_buf_ops`: the exporter's callbacks. Lock context follows the
 * dma-buf locking convention: `attach`, `detach`, `release`, `mmap` and the
 * matching callbacks run without the resv lock; `pin`, `unpin` and the legacy
 * `mapDmaBuf`/`unmapDmaBuf` run with it held.
 * @public
 */
export interface DmaBufOps<TPriv = unknown> {
  /**
   * `match_mapping`: called by `dmaBufMappingAttach()` without the resv lock.
   * Builds the exporter's candidate list in priority order and calls
   * `dmaBufMatchMapping(args, list)`, or throws its own `KernelError`
   * (`ENODEV`, `EOPNOTSUPP`, …) to refuse. Returns nothing.
   */
  matchMapping?(args: DmaBufMatchArgs): void;
  /** `single_exporter_match`: the one fixed offer of a simple exporter (instead of `matchMapping`). */
  readonly singleExporterMatch?: DmaBufMappingMatch;
  /**
   * Legacy `map_dma_buf` of an exporter not yet converted to mapping types;
   * reached through the SGT compatibility entry. Resv held.
   */
  mapDmaBuf?(attach: DmaBufAttachment, dir: DmaDataDirection): unknown;
  /** Legacy `unmap_dma_buf`. Resv held. */
  unmapDmaBuf?(attach: DmaBufAttachment, sgt: unknown, dir: DmaDataDirection): void;
  /**
   * `attach`: a new attachment has been matched (`attach.mapType` is set).
   * Unlocked. Throw a `KernelError` to refuse it; `detach` is then not called.
   */
  attach?(dmabuf: DmaBuf<TPriv>, attach: DmaBufAttachment): void;
  /** `detach`: the attachment is going away. Unlocked. */
  detach?(dmabuf: DmaBuf<TPriv>, attach: DmaBufAttachment): void;
  /** `pin`: keep the backing store in place for a dynamic importer. Resv held. Must come with `unpin`. */
  pin?(attach: DmaBufAttachment): void;
  /** `unpin`. Resv held. */
  unpin?(attach: DmaBufAttachment): void;
  /** `release`: the last reference to the buffer is gone. Mandatory. Unlocked. */
  release(dmabuf: DmaBuf<TPriv>): void;
  /** `mmap`: map the buffer into a user VMA (after the core's size check). Unlocked. */
  mmap?(dmabuf: DmaBuf<TPriv>, vma: VmArea): void;
  /**
   * `get_pfn` (Xu Yilun's RFC 01/12, never merged): the pfn of the page at
   * `pgoff` and the largest order the importer may map it with. Resv held.
   * Only reached through an attachment (KVM's dma-buf memslot). Throw
   * `ENODEV` when revoked, `EINVAL` past the end. An exporter with `getPfn`
   * may have no other way to map (the RFC's export rule).
   */
  getPfn?(attach: DmaBufAttachment, pgoff: bigint): { pfn: bigint; maxOrder: number };
  /**
   * `begin_cpu_access`: called by `dmaBufBeginCpuAccess()` (and so by
   * `DMA_BUF_IOCTL_SYNC` without `DMA_BUF_SYNC_END`) before the CPU touches
   * the buffer, e.g. to sync caches of mapped attachments. Unlocked; may
   * take the resv lock. Optional. Throw a `KernelError` to fail the access;
   * the core then does not wait for the implicit fences.
   */
  beginCpuAccess?(dmabuf: DmaBuf<TPriv>, dir: DmaDataDirection): void;
  /** `end_cpu_access`: the CPU access bracket closes (`DMA_BUF_SYNC_END`). Unlocked. Optional. Throw a `KernelError` to fail. */
  endCpuAccess?(dmabuf: DmaBuf<TPriv>, dir: DmaDataDirection): void;
}

/** `struct dma_buf_attach_ops`: a dynamic importer's callbacks. @public */
export interface DmaBufAttachOps {
  /** `allow_peer2peer`: the importer can handle addresses of peer MMIO (no struct page). */
  readonly allowPeer2peer?: boolean;
  /**
   * `invalidate_mappings` (v1: `move_notify`): called by
   * `dmaBufInvalidateMappings()` with the resv lock held. Drop cached
   * mappings and map again before the next DMA; may call the locked unmap.
   * Optional; without it the attachment is not revocable.
   */
  invalidateMappings?(attach: DmaBufAttachment): void;
}

/** `struct dma_buf_export_info`. @public */
export interface DmaBufExportInfo<TPriv> {
  /** `exp_name`: the exporter's name in bufinfo (default: the owner's name). */
  readonly expName?: string;
  /** `owner` (`THIS_MODULE`); the built-in kernel is `kernel.modules` vmlinux. */
  readonly owner: LoadedModule;
  readonly ops: DmaBufOps<TPriv>;
  readonly size: bigint;
  /** File flags (`O_RDWR`, `O_CLOEXEC`, …); the file keeps `O_ACCMODE | O_NONBLOCK`. */
  readonly flags: number;
  /** An exporter-owned reservation object; by default the buffer embeds its own. */
  readonly resv?: DmaResv;
  readonly priv: TPriv;
}

/**
 * `DEFINE_DMA_BUF_EXPORT_INFO()`: export info with `exp_name` and `owner`
 * taken from the module.
 * @public
 */
export function defineDmaBufExportInfo<TPriv>(owner: LoadedModule, info: Omit<DmaBufExportInfo<TPriv>, "owner">): DmaBufExportInfo<TPriv> {
  return { expName: owner.name, ...info, owner };
}

/** `struct dma_buf_attachment`. @public */
export class DmaBufAttachment {
  /** Set once matching succeeded (null while the exporter matches). */
  dmabuf: DmaBuf | null = null;
  importerOps: DmaBufAttachOps | null = null;
  importerPriv: unknown = null;
  /** Exporter-private data. */
  priv: unknown = null;
  /** The negotiated mapping (`attach->map_type`), written by the type's `finishMatch`. */
  mapType: DmaBufMappingMatch | null = null;
  /** Legacy `attach->dev`, mirrored by the SGT type's `finishMatch` during the conversion. */
  dev: Device | null = null;
  /** Legacy `attach->peer2peer`, mirrored likewise. */
  peer2peer = false;
  /** Tracking id (for messages). */
  readonly id: number;

  constructor(readonly kernel: Kernel) {
    this.id = kernel.objects.track("dma_buf_attachment", this, () => this.describe());
  }

  /** One line for leak reports. */
  describe(): string {
    return `attachment #${this.id} of ${this.dmabuf ? `dma-buf ino ${this.dmabuf.ino} (${this.dmabuf.expName})` : "(unattached)"} as ${this.mapType?.type.name ?? "?"}`;
  }
}

/**
 * The legacy (pre-mapping-type) SGT entries. The SGT mapping-type package
 * provides them (`ctx.provide(DmaBufLegacyCompat, …)`); core uses them for
 * `dmaBufAttach()`/`dmaBufDynamicAttach()` and for exporters that only have
 * `mapDmaBuf`/`unmapDmaBuf`, without knowing the type.
 * @public
 */
export interface DmaBufLegacyCompat {
  /** The importer entry `DMA_BUF_IMAPPING_SGT(dev, accepts_p2p)` of the wrappers. */
  importerMatch(dev: Device, acceptsP2p: boolean): DmaBufMappingMatch;
  /** `dma_buf_sgt_exp_compat_match`: forwards to the exporter's legacy ops. */
  readonly exporterMatch: DmaBufMappingMatch;
}

/** DI token of `DmaBufLegacyCompat`. @public */
export const DmaBufLegacyCompat: InjectionToken<DmaBufLegacyCompat> = Symbol.for("@dmabuf-sdk/dmabuf-core/DmaBufLegacyCompat");

/** `struct dma_buf`. @public */
export class DmaBuf<TPriv = unknown> {
  readonly size: bigint;
  readonly ops: DmaBufOps<TPriv>;
  readonly priv: TPriv;
  readonly resv: DmaResv;
  readonly owner: LoadedModule;
  readonly expName: string;
  /** `dmabuf->name` (`DMA_BUF_SET_NAME`), shown in bufinfo. */
  name: string | null = null;
  /** `dmabuf->cb_in.active` / `cb_out.active`: a poll callback is pending on a fence (`EPOLLIN` / `EPOLLOUT`). */
  readonly pollCb: { in: DmaFenceCb & { active: number }; out: DmaFenceCb & { active: number } } = {
    in: { func: null, active: 0 },
    out: { func: null, active: 0 },
  };
  /** `dmabuf->attachments`, newest first (protected by `resv`). */
  readonly attachments: DmaBufAttachment[] = [];
  readonly #ownResv: boolean;
  readonly #releaseActions: (() => void)[] = [];
  /** @internal set by dmaBufExport */
  _file!: File;

  constructor(readonly kernel: Kernel, info: DmaBufExportInfo<TPriv>) {
    this.size = info.size;
    this.ops = info.ops;
    this.priv = info.priv;
    this.owner = info.owner;
    this.expName = info.expName ?? info.owner.name;
    this.#ownResv = !info.resv;
    this.resv = info.resv ?? new DmaResv(kernel);
  }

  /** `dmabuf->file`. */
  get file(): File {
    return this._file;
  }

  /** Inode number of the buffer's file. */
  get ino(): number {
    return this._file.ino;
  }

  /**
   * Registers an action for `dma_buf_release()`, run before the exporter's
   * `release` (memcg uncharge hooks in here).
   */
  onRelease(fn: () => void): void {
    this.#releaseActions.push(fn);
  }

  /** @internal `dma_buf_release()`. */
  _release(): void {
    const k = this.kernel;
    k.dmaBuf.list.delete(this as DmaBuf);
    try {
      for (const fn of this.#releaseActions.splice(0)) fn();
      this.ops.release(this);
    } finally {
      if (this.#ownResv) dmaResvFini(this.resv);
      if (this.attachments.length) k.warn(`dma_buf_release: ${this.attachments.length} attachment(s) still on dma-buf ino ${this.ino}`);
      k.modules.modulePut(this.owner);
      k.objects.untrack(this);
      k.trace.emit("dma_buf_release", { exp_name: this.expName, ino: this.ino, size: this.size });
    }
  }
}

/** `dma_buf_fops`: no `read`/`write` (so `read(2)`/`write(2)` are `EINVAL`), no positional I/O. */
export const DMA_BUF_FOPS: FileOperations = {
  name: "dmabuf",
  release(file: File): void {
    const dmabuf = file.privateData as DmaBuf | undefined;
    if (dmabuf) dmabuf._release();
  },
  mmap(file: File, vma: VmArea): void {
    dmaBufMmapInternal(file, vma);
  },
  unlockedIoctl(file: File, cmd: number, arg: UserArg): number {
    return dmaBufIoctl(file.privateData as DmaBuf, cmd, arg);
  },
  poll(file: File, events: number): number {
    return dmaBufPoll(file.privateData as DmaBuf | undefined, events);
  },
};

/** `is_dma_buf_file()`. @public */
export function isDmaBufFile(file: File): boolean {
  return file.fops === DMA_BUF_FOPS;
}

/**
 * `dma_buf_export()`: creates a dma-buf with its file. Checks, in order:
 * 1. priv, ops and `release` present, else `EINVAL` (WARN);
 * 2. `matchMapping` or `singleExporterMatch` exclude the legacy
 *    `mapDmaBuf`/`unmapDmaBuf` and each other; without them both legacy ops
 *    are required, or neither with a `getPfn` (RFC 01/12: map ops both or
 *    neither, and at least one of them or `get_pfn`); else `EINVAL` (WARN);
 * 3. `pin` and `unpin` both or neither, else `EINVAL` (WARN);
 * 4. `try_module_get(owner)` fails (module going away): `ENOENT`;
 * then the file and the buffer are allocated (`ENOMEM`, nothing left behind).
 * The caller owns the file's one reference (`dmaBufFd` hands it to an fd).
 * @public
 */
export function dmaBufExport<TPriv>(kernel: Kernel, info: DmaBufExportInfo<TPriv>): DmaBuf<TPriv> {
  const ops = info.ops;
  if (info.priv === undefined || info.priv === null || !ops || !ops.release) {
    kernel.warn("dma_buf_export: missing priv, ops or release");
    throw new KernelError("EINVAL", "dma_buf_export", "missing priv, ops or ops.release");
  }
  if (ops.matchMapping || ops.singleExporterMatch) {
    if (ops.mapDmaBuf || ops.unmapDmaBuf) {
      kernel.warn("dma_buf_export: mapping-type exporter also sets map_dma_buf/unmap_dma_buf");
      throw new KernelError("EINVAL", "dma_buf_export", "match_mapping with legacy map ops");
    }
    if (ops.matchMapping && ops.singleExporterMatch) {
      kernel.warn("dma_buf_export: both match_mapping and single_exporter_match");
      throw new KernelError("EINVAL", "dma_buf_export", "both match_mapping and single_exporter_match");
    }
  } else if (!ops.mapDmaBuf !== !ops.unmapDmaBuf || (!ops.mapDmaBuf && !ops.getPfn)) {
    kernel.warn("dma_buf_export: no match_mapping and no map_dma_buf/unmap_dma_buf");
    throw new KernelError("EINVAL", "dma_buf_export", "no way to map");
  }
  if (!ops.pin !== !ops.unpin) {
    kernel.warn("dma_buf_export: pin without unpin (or unpin without pin)");
    throw new KernelError("EINVAL", "dma_buf_export", "pin/unpin mismatch");
  }
  if (!kernel.modules.tryModuleGet(info.owner)) throw new KernelError("ENOENT", "dma_buf_export", `module ${info.owner.name} is going away`);

  let file: File;
  try {
    // dma_buf_getfile(): anon inode + pseudo file.
    kernel.alloc.kzalloc("dma_buf_file");
    // alloc_file_pseudo(): no FMODE_PREAD/PWRITE, so pread/pwrite on a dma-buf fd are ESPIPE.
    file = new File(kernel, DMA_BUF_FOPS, undefined, info.flags & (O_ACCMODE | O_NONBLOCK), 0);
  } catch (e) {
    kernel.modules.modulePut(info.owner);
    throw e;
  }
  let dmabuf: DmaBuf<TPriv>;
  try {
    kernel.alloc.kzalloc("dma_buf");
    dmabuf = new DmaBuf(kernel, info);
  } catch (e) {
    file.put(); // err_file: fput() of a file without a dma-buf behind it
    kernel.modules.modulePut(info.owner);
    throw e;
  }
  dmabuf._file = file;
  file.privateData = dmabuf;
  kernel.objects.track("dma_buf", dmabuf, () => `dma-buf ino ${dmabuf.ino} exp_name ${dmabuf.expName} size ${dmabuf.size} count ${file.count}`);
  kernel.dmaBuf.list.add(dmabuf as DmaBuf);
  kernel.trace.emit("dma_buf_export", { exp_name: dmabuf.expName, name: dmabuf.name, size: dmabuf.size, ino: dmabuf.ino, f_refcnt: file.count });
  return dmabuf;
}

/**
 * `dma_buf_fd()`: installs the buffer's file in the current task's fd table
 * and returns the fd. The file reference the caller held moves to the fd.
 * @throws KernelError `EINVAL` for a buffer without a file; `EMFILE` (or the
 * injected errno) from fd allocation, leaving the caller's reference intact.
 * @public
 */
export function dmaBufFd(dmabuf: DmaBuf | null, flags: number): number {
  if (!dmabuf || !dmabuf.file) throw new KernelError("EINVAL", "dma_buf_fd");
  const files = dmabuf.kernel.current.files;
  const fd = files.getUnusedFdFlags(flags);
  files.fdInstall(fd, dmabuf.file);
  dmabuf.kernel.trace.emit("dma_buf_fd", { exp_name: dmabuf.expName, ino: dmabuf.ino, fd });
  return fd;
}

/**
 * `dma_buf_get()`: a reference to the dma-buf behind `fd` of the current task.
 * @throws KernelError `EBADF` (no such fd), `EINVAL` (not a dma-buf).
 * @public
 */
export function dmaBufGet(kernel: Kernel, fd: number): DmaBuf {
  const file = kernel.current.files.fget(fd);
  if (!isDmaBufFile(file)) {
    file.put();
    throw new KernelError("EINVAL", "dma_buf_get", `fd ${fd} is a ${file.fops.name} file`);
  }
  const dmabuf = file.privateData as DmaBuf;
  kernel.trace.emit("dma_buf_get", { exp_name: dmabuf.expName, ino: dmabuf.ino, fd });
  return dmabuf;
}

/** `get_dma_buf()`. @public */
export function getDmaBuf(dmabuf: DmaBuf): void {
  dmabuf.file.get();
}

/** `dma_buf_put()`: drops a reference; the last one releases the buffer. @public */
export function dmaBufPut(dmabuf: DmaBuf | null): void {
  if (!dmabuf || !dmabuf.file) {
    dmabuf?.kernel.warn("dma_buf_put without a file");
    return;
  }
  dmabuf.kernel.trace.emit("dma_buf_put", { exp_name: dmabuf.expName, ino: dmabuf.ino, f_refcnt: dmabuf.file.count - 1 });
  dmabuf.file.put();
}

/**
 * `dma_buf_mapping_attach()`: negotiates a mapping type and attaches.
 * Must be called without the resv lock. Steps, in order:
 * 1. allocate the attachment (`ENOMEM`);
 * 2. the exporter's `matchMapping`, else its `singleExporterMatch`, else the
 *    legacy compatibility entry, matched against `importerMatches`
 *    (`EINVAL` when nothing matches; a refusal's own errno) — unlocked, with
 *    the attachment not yet filled in;
 * 3. fill in dmabuf/importer ops/priv, call the exporter's `attach` (its errno);
 * 4. link the attachment at the head of the list under the resv lock.
 * On failure nothing is left behind.
 * @public
 */
export function dmaBufMappingAttach(
  dmabuf: DmaBuf | null,
  importerMatches: readonly DmaBufMappingMatch[],
  importerOps: DmaBufAttachOps | null = null,
  importerPriv: unknown = null,
): DmaBufAttachment {
  if (!dmabuf) throw new KernelError("EINVAL", "dma_buf_mapping_attach", "NULL dmabuf");
  const k = dmabuf.kernel;
  k.alloc.kzalloc("dma_buf_attachment");
  const attach = new DmaBufAttachment(k);
  try {
    const args: DmaBufMatchArgs = { dmabuf, attach, impMatches: importerMatches };
    const ops = dmabuf.ops;
    if (ops.matchMapping) {
      const r: unknown = ops.matchMapping(args);
      if (r !== undefined) {
        // amdgpu 11/26 returned 1 here: the kernel would hand out ERR_PTR(1).
        k.warn(`${dmabuf.expName}: match_mapping returned ${String(r)}`);
        throw new KernelError("EINVAL", "dma_buf_mapping_attach", `match_mapping returned ${String(r)}`);
      }
    } else if (ops.singleExporterMatch) {
      dmaBufMatchMapping(args, [ops.singleExporterMatch]);
    } else {
      const compat = k.providers(DmaBufLegacyCompat)[0];
      // An exporter with only `get_pfn` (RFC 01/12) offers no mapping at all.
      dmaBufMatchMapping(args, compat && ops.mapDmaBuf ? [compat.exporterMatch] : []);
    }
    if (!attach.mapType) {
      k.warn(`${dmabuf.expName}: matching succeeded without finish_match setting map_type`);
      throw new KernelError("EINVAL", "dma_buf_mapping_attach", "no map_type after match");
    }
    attach.dmabuf = dmabuf;
    attach.importerOps = importerOps;
    attach.importerPriv = importerPriv;
    ops.attach?.(dmabuf, attach);
  } catch (e) {
    k.objects.untrack(attach);
    throw e;
  }
  dmaResvLock(dmabuf.resv);
  dmabuf.attachments.unshift(attach);
  dmaResvUnlock(dmabuf.resv);
  k.trace.emit("dma_buf_mapping_attach", {
    exp_name: dmabuf.expName,
    ino: dmabuf.ino,
    attach: attach.id,
    is_dynamic: importerOps !== null,
    map_type: attach.mapType!.type.name,
  });
  return attach;
}

/**
 * `dma_buf_attach(dmabuf, dev)` (after the renames: `dma_buf_sgt_attach`):
 * a static SGT importer that does not know mapping types. Offers exactly
 * `DMA_BUF_IMAPPING_SGT(dev, DMA_SGT_NO_P2P)`.
 * @public
 */
export function dmaBufAttach(dmabuf: DmaBuf | null, dev: Device): DmaBufAttachment {
  if (!dmabuf || !dev) throw new KernelError("EINVAL", "dma_buf_attach");
  return dmaBufMappingAttach(dmabuf, legacyImporterList(dmabuf.kernel, dev, false), null, null);
}

/**
 * `dma_buf_dynamic_attach(dmabuf, dev, importer_ops, priv)` (later
 * `dma_buf_sgt_dynamic_attach`): offers `DMA_BUF_IMAPPING_SGT(dev,
 * allow_peer2peer ? ACCEPTS_P2P : NO_P2P)`. Like the kernel wrapper it
 * dereferences `importerOps` unconditionally: NULL ops are an oops.
 * @public
 */
export function dmaBufDynamicAttach(dmabuf: DmaBuf | null, dev: Device, importerOps: DmaBufAttachOps, importerPriv: unknown = null): DmaBufAttachment {
  if (!dmabuf || !dev) throw new KernelError("EINVAL", "dma_buf_dynamic_attach");
  if (!importerOps) throw new KernelBug("oops", "BUG: kernel NULL pointer dereference in dma_buf_dynamic_attach (importer_ops->allow_peer2peer)");
  return dmaBufMappingAttach(dmabuf, legacyImporterList(dmabuf.kernel, dev, !!importerOps.allowPeer2peer), importerOps, importerPriv);
}

function legacyImporterList(kernel: Kernel, dev: Device, accepts: boolean): DmaBufMappingMatch[] {
  const compat = kernel.providers(DmaBufLegacyCompat)[0];
  return compat ? [compat.importerMatch(dev, accepts)] : [];
}

/**
 * `dma_buf_detach()`: unlinks under the resv lock (caller must not hold it),
 * then calls the exporter's `detach`. A mismatched or NULL argument WARNs and
 * returns. The core does not check that mappings were released.
 * @public
 */
export function dmaBufDetach(dmabuf: DmaBuf | null, attach: DmaBufAttachment | null): void {
  if (!dmabuf || !attach || attach.dmabuf !== dmabuf) {
    (dmabuf ?? attach)?.kernel.warn("dma_buf_detach: NULL or mismatched attachment");
    return;
  }
  const k = dmabuf.kernel;
  dmaResvLock(dmabuf.resv);
  const i = dmabuf.attachments.indexOf(attach);
  if (i >= 0) dmabuf.attachments.splice(i, 1);
  dmaResvUnlock(dmabuf.resv);
  try {
    dmabuf.ops.detach?.(dmabuf, attach);
  } finally {
    k.trace.emit("dma_buf_detach", { exp_name: dmabuf.expName, ino: dmabuf.ino, attach: attach.id });
    k.objects.untrack(attach);
  }
}

/** `dma_buf_attachment_is_dynamic()`: the importer gave ops. @public */
export function dmaBufAttachmentIsDynamic(attach: DmaBufAttachment): boolean {
  return attach.importerOps !== null;
}

/** `dma_buf_is_dynamic()`: the exporter can pin (its buffers may move). @public */
export function dmaBufIsDynamic(dmabuf: DmaBuf): boolean {
  return !!dmabuf.ops.pin;
}

/** `dma_buf_attach_revocable()`: the importer handles `invalidate_mappings`. @public */
export function dmaBufAttachRevocable(attach: DmaBufAttachment): boolean {
  return !!attach.importerOps?.invalidateMappings;
}

/**
 * `dma_buf_pin()`: resv held (asserted); only dynamic importers may pin
 * (WARN otherwise, then proceeds as the kernel does). Propagates the
 * exporter's refusal.
 * @public
 */
export function dmaBufPin(attach: DmaBufAttachment): void {
  const dmabuf = attach.dmabuf!;
  if (!attach.importerOps) dmabuf.kernel.warn("dma_buf_pin by a static importer");
  dmaResvAssertHeld(dmabuf.resv, "dma_buf_pin");
  dmabuf.ops.pin?.(attach);
}

/** `dma_buf_unpin()`: resv held (asserted). @public */
export function dmaBufUnpin(attach: DmaBufAttachment): void {
  const dmabuf = attach.dmabuf!;
  if (!attach.importerOps) dmabuf.kernel.warn("dma_buf_unpin by a static importer");
  dmaResvAssertHeld(dmabuf.resv, "dma_buf_unpin");
  dmabuf.ops.unpin?.(attach);
}

/**
 * `dma_buf_invalidate_mappings()` (v1: `dma_buf_move_notify`): the exporter
 * holds the resv lock (asserted); every attachment with an
 * `invalidateMappings` callback is told, newest first.
 * @public
 */
export function dmaBufInvalidateMappings(dmabuf: DmaBuf): void {
  dmaResvAssertHeld(dmabuf.resv, "dma_buf_invalidate_mappings");
  dmabuf.kernel.trace.emit("dma_buf_invalidate_mappings", { exp_name: dmabuf.expName, ino: dmabuf.ino });
  for (const attach of [...dmabuf.attachments]) attach.importerOps?.invalidateMappings?.(attach);
}

/**
 * `dma_buf_mmap_internal()`: the dma-buf file's `mmap`. `EINVAL` when the
 * exporter has no `mmap` or the VMA reaches past the buffer.
 */
export function dmaBufMmapInternal(file: File, vma: VmArea): void {
  if (!isDmaBufFile(file)) throw new KernelError("EINVAL", "dma_buf_mmap_internal");
  const dmabuf = file.privateData as DmaBuf;
  if (!dmabuf.ops.mmap) throw new KernelError("EINVAL", "dma_buf_mmap_internal", "exporter has no mmap");
  if (vma.pgoff + vma.pages > dmabuf.size >> BigInt(PAGE_SHIFT)) throw new KernelError("EINVAL", "dma_buf_mmap_internal", "beyond the buffer");
  dmabuf.kernel.trace.emit("dma_buf_mmap_internal", { exp_name: dmabuf.expName, ino: dmabuf.ino });
  dmabuf.ops.mmap(dmabuf, vma);
}
