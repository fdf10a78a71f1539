// User pointers inside ioctl structs (`u64_to_user_ptr`): a per-kernel registry of user memory regions by address.
import { KernelLocal } from "../kernel/kernel-local.js";
import { KernelError } from "../kernel/kernel-error.js";
import type { Kernel } from "../kernel/kernel.js";

interface Region {
  readonly addr: bigint;
  readonly bytes: Uint8Array;
}

/**
 * The user memory that ioctl structs point to (`sync_file_info.sync_fence_info`,
 * `drm_syncobj_wait.handles`, ...). A test or caller registers a buffer and
 * gets its address; the kernel side copies from and to it with the
 * `copy_{from,to}_user` rules: address 0, unregistered or too-short ranges
 * are `EFAULT`.
 * @public
 */
export class UserMemory {
  readonly #regions: Region[] = [];
  #next = 0x10_0000n;

  /** Registers `bytes` as user memory and returns its address (never 0). */
  map(bytes: Uint8Array): bigint {
    const addr = this.#next;
    this.#next += (BigInt(bytes.length) + 0x1fffn) & ~0xfffn; // a guard page after each region
    this.#regions.push({ addr, bytes });
    return addr;
  }

  /** Forgets a region; later accesses fault. */
  unmap(addr: bigint): void {
    const i = this.#regions.findIndex((r) => r.addr === addr);
    if (i >= 0) this.#regions.splice(i, 1);
  }

  #view(addr: bigint, len: number, op: string): Uint8Array {
    if (len === 0) return new Uint8Array(0);
    for (const r of this.#regions) {
      if (addr >= r.addr && addr + BigInt(len) <= r.addr + BigInt(r.bytes.length)) {
        const off = Number(addr - r.addr);
        return r.bytes.subarray(off, off + len);
      }
    }
    throw new KernelError("EFAULT", op, `${len} bytes at 0x${addr.toString(16)}`);
  }

  /** `copy_from_user(dst, u64_to_user_ptr(addr), len)`: a copy. @throws KernelError `EFAULT`. */
  copyFrom(addr: bigint, len: number, op = "copy_from_user"): Uint8Array {
    return this.#view(addr, len, op).slice();
  }

  /** `copy_to_user(u64_to_user_ptr(addr), src, len)`. @throws KernelError `EFAULT`. */
  copyTo(addr: bigint, src: Uint8Array, op = "copy_to_user"): void {
    this.#view(addr, src.length, op).set(src);
  }
}

const USER_MEMORY = new KernelLocal<UserMemory>("USER_MEMORY");

/** The user memory registry of `kernel`. @public */
export function userMemory(kernel: Kernel): UserMemory {
  let m = USER_MEMORY.get(kernel);
  if (!m) {
    m = new UserMemory();
    USER_MEMORY.set(kernel, m);
  }
  return m;
}
