import { KernelError } from "../kernel/kernel-error.js";

/**
 * What an ioctl argument is: a user buffer holding the struct (a
 * `Uint8Array` standing for the user memory at the pointer), a plain integer
 * argument, or NULL.
 */
export type UserArg = Uint8Array | number | bigint | null;

/**
 * `copy_from_user()`: `len` bytes at `offset` of the user buffer.
 * @throws KernelError `EFAULT` when the buffer is NULL, not a buffer, or too short.
 */
export function copyFromUser(arg: UserArg, offset: number, len: number, op = "copy_from_user"): DataView {
  if (!(arg instanceof Uint8Array) || offset < 0 || offset + len > arg.length) throw new KernelError("EFAULT", op, `${len} bytes at +${offset}`);
  return new DataView(arg.buffer, arg.byteOffset + offset, len);
}

/** `copy_to_user()`. @throws KernelError `EFAULT`. */
export function copyToUser(arg: UserArg, offset: number, src: Uint8Array, op = "copy_to_user"): void {
  if (!(arg instanceof Uint8Array) || offset < 0 || offset + src.length > arg.length) throw new KernelError("EFAULT", op, `${src.length} bytes at +${offset}`);
  arg.set(src, offset);
}

/** Little-endian struct field access on a user buffer, for uAPI structs. */
export class UserStruct {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  /** A zeroed struct of `size` bytes. */
  static alloc(size: number): UserStruct {
    return new UserStruct(new Uint8Array(size));
  }
  u32(off: number): number {
    return this.view.getUint32(off, true);
  }
  s32(off: number): number {
    return this.view.getInt32(off, true);
  }
  u64(off: number): bigint {
    return this.view.getBigUint64(off, true);
  }
  setU32(off: number, v: number): this {
    this.view.setUint32(off, v >>> 0, true);
    return this;
  }
  setS32(off: number, v: number): this {
    this.view.setInt32(off, v, true);
    return this;
  }
  setU64(off: number, v: bigint): this {
    this.view.setBigUint64(off, BigInt.asUintN(64, v), true);
    return this;
  }
}
