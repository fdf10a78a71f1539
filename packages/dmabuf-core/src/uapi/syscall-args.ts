// The syscall ABI's C argument types (include/linux/syscalls.h, include/linux/types.h) as checks on JS values.
import { KernelError } from "../kernel/kernel-error.js";

/** 2^64, 2^63, 2^32, 2^31. */
const U64 = 1n << 64n;
const S63 = 1n << 63n;

/**
 * The value as a bigint if it is an integer a 64-bit register can hold
 * (a safe-integer number or a bigint in [-2^63, 2^64)), else undefined.
 * NaN, ±Infinity, fractions, numbers beyond 2^53 (which no longer name one
 * integer) and other types are not register values.
 */
function register64(v: unknown): bigint | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) ? BigInt(v) : undefined;
  if (typeof v === "bigint") return v >= -S63 && v < U64 ? v : undefined;
  return undefined;
}

/**
 * `unsigned long` / `size_t`: the register value modulo 2^64, as C converts
 * a negative `long` (so `-1` is `ULONG_MAX`).
 * @throws KernelError `EINVAL` for a value no register can hold.
 */
export function argUlong(v: unknown, op: string, what: string): bigint {
  const r = register64(v);
  if (r === undefined) throw new KernelError("EINVAL", op, `${what} is not an unsigned long: ${describe(v)}`);
  return BigInt.asUintN(64, r);
}

/**
 * `loff_t` (`long long`): the register value as a signed 64-bit integer.
 * @throws KernelError `EINVAL` for a value no register can hold.
 */
export function argLoff(v: unknown, op: string, what: string): bigint {
  const r = register64(v);
  if (r === undefined) throw new KernelError("EINVAL", op, `${what} is not a loff_t: ${describe(v)}`);
  return BigInt.asIntN(64, r);
}

/**
 * `int` / `unsigned int` flags and numbers: the low 32 bits of an integer in
 * [-2^31, 2^32), signed (`int`) or unsigned.
 * @throws KernelError `EINVAL` for anything else.
 */
export function argInt32(v: unknown, op: string, what: string, signed: boolean): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < -0x8000_0000 || v > 0xffff_ffff) {
    throw new KernelError("EINVAL", op, `${what} is not an ${signed ? "int" : "unsigned int"}: ${describe(v)}`);
  }
  return signed ? v | 0 : v >>> 0;
}

/**
 * A file descriptor (`int fd` / `unsigned int fd`): any value that is not a
 * non-negative int names no open file, which `fdget()` reports as `EBADF`.
 * Returns -1 for those, so the fd lookup fails with the kernel's errno in
 * the kernel's order.
 */
export function argFd(v: unknown): number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0x7fff_ffff ? v : -1;
}

/** A user pointer to a buffer: anything but a `Uint8Array` is memory the task does not have (`EFAULT`). */
export function argUserBuf(v: unknown, op: string, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new KernelError("EFAULT", op, `${what} is not user memory`);
  return v;
}

function describe(v: unknown): string {
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "number") return String(v);
  return typeof v;
}
