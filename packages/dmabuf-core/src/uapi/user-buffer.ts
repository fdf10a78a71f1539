// include/linux/uaccess.h: copy_from_user/copy_to_user/strndup_user over a user buffer holding an ioctl struct.
import { KernelError } from "../kernel/kernel-error.js";
import type { Kernel } from "../kernel/kernel.js";
import { userMemory } from "./user-ptr.js";

/**
 * What an ioctl argument is: a user buffer holding the struct (a
 * `Uint8Array` standing for the user memory at the pointer), a plain integer
 * argument, or NULL.
 * @public
 */
export type UserArg = Uint8Array | number | bigint | null;

/**
 * `copy_from_user()`: `len` bytes at `offset` of the user buffer.
 * @throws KernelError `EFAULT` when the buffer is NULL, not a buffer, or too short.
 * @public
 */
export function copyFromUser(arg: UserArg, offset: number, len: number, op = "copy_from_user"): DataView {
  if (!(arg instanceof Uint8Array) || offset < 0 || offset + len > arg.length) throw new KernelError("EFAULT", op, `${len} bytes at +${offset}`);
  return new DataView(arg.buffer, arg.byteOffset + offset, len);
}

/** `copy_to_user()`. @throws KernelError `EFAULT`. @public */
export function copyToUser(arg: UserArg, offset: number, src: Uint8Array, op = "copy_to_user"): void {
  if (!(arg instanceof Uint8Array) || offset < 0 || offset + src.length > arg.length) throw new KernelError("EFAULT", op, `${src.length} bytes at +${offset}`);
  arg.set(src, offset);
}

/**
 * `strndup_user(s, n)` (mm/util.c): a kernel copy of the NUL-terminated user
 * string at `arg` (a `Uint8Array` standing for the memory at the pointer, or
 * an address registered in the kernel's user memory). `strnlen_user()` reads
 * at most `n` bytes: a fault before the NUL is `EFAULT`, no NUL within `n`
 * bytes is `EINVAL`; then the copy is allocated (`ENOMEM`).
 * @throws KernelError `EFAULT`, `EINVAL`, `ENOMEM`.
 * @public
 */
export function strndupUser(kernel: Kernel, arg: UserArg, n: number, op = "strndup_user"): string {
  const byteAt = (i: number): number | undefined => {
    if (arg instanceof Uint8Array) return i < arg.length ? arg[i] : undefined;
    if ((typeof arg === "number" || typeof arg === "bigint") && BigInt(arg) > 0n) {
      try {
        return userMemory(kernel).copyFrom(BigInt(arg) + BigInt(i), 1, op)[0];
      } catch {
        return undefined;
      }
    }
    return undefined;
  };
  const bytes: number[] = [];
  for (let i = 0; ; i++) {
    if (i === n) throw new KernelError("EINVAL", op, `no NUL within ${n} bytes`);
    const b = byteAt(i);
    if (b === undefined) throw new KernelError("EFAULT", op, `fault at byte ${i} of the string`);
    if (b === 0) break;
    bytes.push(b);
  }
  kernel.alloc.kzalloc(`${op} copy`);
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Little-endian struct field access on a user buffer, for uAPI structs. @public */
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
