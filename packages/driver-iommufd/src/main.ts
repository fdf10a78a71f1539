// drivers/iommu/iommufd/main.c: struct iommufd_object, the object table and the /dev/iommu file.
import { KernelError, copyFromUser, copyToUser, type File, type FileOperations, type Kernel, type LoadedModule, type UserArg } from "@dmabuf-sdk/dmabuf-core";
import type { IommufdDevice, IommufdHwptPaging } from "./device.js";
import { iommufdDestroy, iommufdIoasAlloc, iommufdIoasMapFile, iommufdIoasUnmap, type IommufdIoas } from "./ioas.js";
import {
  IOMMUFD_CMD_BASE,
  IOMMUFD_CMD_DESTROY,
  IOMMUFD_CMD_IOAS_ALLOC,
  IOMMUFD_CMD_IOAS_MAP_FILE,
  IOMMUFD_CMD_IOAS_UNMAP,
  IOMMUFD_CMD_LAST,
  IOMMUFD_TYPE,
  IOMMU_DESTROY_SIZE,
  IOMMU_IOAS_ALLOC_SIZE,
  IOMMU_IOAS_MAP_FILE_SIZE,
  IOMMU_IOAS_UNMAP_SIZE,
} from "./iommufd.js";
import { io } from "@dmabuf-sdk/dmabuf-core";

/** An iommufd object (`struct iommufd_object`). @public */
export type IommufdObject = IommufdIoas | IommufdHwptPaging | IommufdDevice;

/**
 * `struct iommufd_ctx`: one open of `/dev/iommu`. Objects live in an id
 * table starting at 1. Bound devices hold a reference to the ctx's file, so
 * the ctx (and its objects) outlive the fd until they are unbound.
 * @public
 */
export class IommufdCtx {
  readonly #objects = new Map<number, IommufdObject>();
  #nextId = 1;
  /** The ctx's file (`ictx->file`). */
  file!: File;
  destroyed = false;

  constructor(
    readonly kernel: Kernel,
    readonly module: LoadedModule,
  ) {}

  /** `xa_alloc()` of an object id: the lowest free id from 1. */
  addObject(make: (id: number) => IommufdObject): IommufdObject {
    let id = this.#nextId;
    while (this.#objects.has(id)) id++;
    const obj = make(id);
    this.#objects.set(id, obj);
    this.#nextId = id + 1;
    return obj;
  }

  /** `iommufd_get_object()`: the object with `id`, if any. */
  getObject(id: number): IommufdObject | undefined {
    return this.#objects.get(id);
  }

  /** Removes an object from the table (its owner undoes the rest). */
  removeObject(obj: IommufdObject): void {
    if (this.#objects.get(obj.id) === obj) this.#objects.delete(obj.id);
    if (obj.id < this.#nextId) this.#nextId = obj.id;
  }

  /** Live objects, by id. */
  objects(): IommufdObject[] {
    return [...this.#objects.values()].sort((a, b) => a.id - b.id);
  }

  /** `iommufd_fops_release()`: the last reference of the file: destroy every object. */
  release(): void {
    for (const obj of this.objects().reverse()) if (obj.kind === "ioas") obj.destroy();
    this.destroyed = true;
    this.kernel.modules.modulePut(this.module);
  }
}

/** `struct iommufd_ucmd` as the handlers see it: the ctx, the user buffer, the copied struct. @public */
export interface IommufdUcmd {
  readonly ictx: IommufdCtx;
  readonly arg: Uint8Array;
  readonly userSize: number;
  /** The command struct, `size` bytes of the kernel's view (zero-extended). */
  readonly cmd: DataView;
}

/** `iommufd_ucmd_respond()`: copies the command struct back (as much as the user's size). */
export function iommufdUcmdRespond(ucmd: IommufdUcmd, size: number): void {
  const n = Math.min(ucmd.userSize, size);
  copyToUser(ucmd.arg, 0, new Uint8Array(ucmd.cmd.buffer, ucmd.cmd.byteOffset, n), "iommufd_ucmd_respond");
}

interface IoctlOp {
  readonly cmd: number;
  readonly size: number;
  readonly minSize: number;
  readonly execute: (ucmd: IommufdUcmd) => number;
}

const OPS = new Map<number, IoctlOp>([
  [IOMMUFD_CMD_DESTROY, { cmd: io(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY), size: IOMMU_DESTROY_SIZE, minSize: 8, execute: iommufdDestroy }],
  [IOMMUFD_CMD_IOAS_ALLOC, { cmd: io(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC), size: IOMMU_IOAS_ALLOC_SIZE, minSize: 12, execute: iommufdIoasAlloc }],
  [IOMMUFD_CMD_IOAS_UNMAP, { cmd: io(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP), size: IOMMU_IOAS_UNMAP_SIZE, minSize: 24, execute: iommufdIoasUnmap }],
  [IOMMUFD_CMD_IOAS_MAP_FILE, { cmd: io(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP_FILE), size: IOMMU_IOAS_MAP_FILE_SIZE, minSize: 40, execute: iommufdIoasMapFile }],
]);

/**
 * `iommufd_fops_ioctl()`: a command number outside iommufd's range is the
 * vfio compatibility ioctl (not modelled: `ENOTTY`); then `get_user(size)`
 * (`EFAULT`), the exact ioctl number (`ENOTTY`; commands the model does not
 * implement too), `size < min_size` (`EINVAL`), and `copy_struct_from_user()`:
 * a larger user struct must be zero past the kernel's (`E2BIG`), a buffer
 * shorter than `size` is `EFAULT`.
 */
function iommufdFopsIoctl(file: File, cmd: number, arg: UserArg): number {
  const ictx = file.privateData as IommufdCtx;
  const nr = cmd & 0xff;
  if (nr < IOMMUFD_CMD_BASE || nr > IOMMUFD_CMD_LAST) throw new KernelError("ENOTTY", "iommufd_vfio_ioctl", "the vfio compatibility interface is not modelled");
  const userSize = copyFromUser(arg, 0, 4, "iommufd_fops_ioctl").getUint32(0, true);
  const op = OPS.get(nr);
  if (!op || op.cmd !== cmd) throw new KernelError("ENOTTY", "iommufd_fops_ioctl", `cmd ${cmd.toString(16)}`);
  if (userSize < op.minSize) throw new KernelError("EINVAL", "iommufd_fops_ioctl", `size ${userSize} < ${op.minSize}`);
  const user = copyFromUser(arg, 0, userSize, "copy_struct_from_user");
  for (let i = op.size; i < userSize; i++) if (user.getUint8(i) !== 0) throw new KernelError("E2BIG", "copy_struct_from_user");
  const buf = new Uint8Array(op.size);
  buf.set(new Uint8Array(user.buffer, user.byteOffset, Math.min(op.size, userSize)));
  return op.execute({ ictx, arg: arg as Uint8Array, userSize, cmd: new DataView(buf.buffer) });
}

/** `iommufd_fops`: `/dev/iommu`. @public */
export const iommufdFops: FileOperations = {
  name: "iommufd",
  unlockedIoctl: iommufdFopsIoctl,
  release(file: File): void {
    (file.privateData as IommufdCtx | undefined)?.release();
  },
};

/**
 * `iommufd_ctx_from_fd()`: the ctx behind `fd` of the current task, with a
 * reference on its file (drop it with `iommufdCtxPut`). `EBADF`, or
 * `EBADFD` when the fd is not an iommufd.
 * @public
 */
export function iommufdCtxFromFd(kernel: Kernel, fd: number): IommufdCtx {
  const file = kernel.current.files.fget(fd);
  if (file.fops !== iommufdFops) {
    file.put();
    throw new KernelError("EBADFD", "iommufd_ctx_from_fd", `fd ${fd} is a ${file.fops.name}`);
  }
  return file.privateData as IommufdCtx;
}

/** `iommufd_ctx_put()`. @public */
export function iommufdCtxPut(ictx: IommufdCtx): void {
  ictx.file.put();
}
