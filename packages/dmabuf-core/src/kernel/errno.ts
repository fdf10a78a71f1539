// include/uapi/asm-generic/errno-base.h, errno.h: the kernel's errno names and numbers.
/**
 * Kernel errno vocabulary (include/uapi/asm-generic/errno-base.h, errno.h and
 * include/linux/errno.h for the kernel-internal values).
 */

/** errno names and their numbers, as on x86-64 Linux. @public */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EPIPE: 32,
  ERANGE: 34,
  EDEADLK: 35,
  ENOSYS: 38,
  ENODATA: 61,
  ETIME: 62,
  EOVERFLOW: 75,
  EBADFD: 77,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  ETIMEDOUT: 110,
  ECANCELED: 125,
  EHWPOISON: 133,
  /* kernel-internal, never seen by userspace as such */
  ERESTARTSYS: 512,
  ENOTSUPP: 524,
} as const;

/** A kernel errno name such as `'EINVAL'`. @public */
export type Errno = keyof typeof ERRNO;

const ERRNO_NAMES = new Map<number, Errno>(
  (Object.entries(ERRNO) as [Errno, number][]).map(([k, v]) => [v, k]),
);

/** `EINVAL` → 22. @public */
export function errnoNumber(errno: Errno): number {
  return ERRNO[errno];
}

/** 22 (or -22) → `EINVAL`; `undefined` for an unknown number. @public */
export function errnoName(n: number): Errno | undefined {
  return ERRNO_NAMES.get(Math.abs(n));
}

/** Type guard for errno names. @public */
export function isErrno(s: unknown): s is Errno {
  return typeof s === "string" && Object.prototype.hasOwnProperty.call(ERRNO, s);
}
