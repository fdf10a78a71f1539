// Kernel errors: an errno the kernel would return (KernelError) and a BUG()/WARN the model turns into an exception.
import { ERRNO, type Errno } from "./errno.js";

/**
 * The one error vocabulary of the model: an errno the kernel would return, and
 * the operation that returned it. Thrown where C returns `-errno` or
 * `ERR_PTR(-errno)`.
 * @public
 */
export class KernelError extends Error {
  override readonly name = "KernelError";
  /** The errno name, e.g. `'EINVAL'`. */
  readonly errno: Errno;
  /** The kernel function (or ioctl) that failed, e.g. `'dma_buf_export'`. */
  readonly operation: string;

  constructor(errno: Errno, operation: string, detail?: string, options?: { cause?: unknown }) {
    super(`${operation}: ${errno}${detail ? ` (${detail})` : ""}`, options);
    this.errno = errno;
    this.operation = operation;
  }

  /** The negative number a syscall would return, e.g. -22. */
  get code(): number {
    return -ERRNO[this.errno];
  }
}

/** True when `e` is a {@link KernelError}, optionally with the given errno. @public */
export function isKernelError(e: unknown, errno?: Errno): e is KernelError {
  return e instanceof KernelError && (errno === undefined || e.errno === errno);
}

/**
 * A kernel bug or driver contract violation: what `WARN_ON()`/`BUG()` or a
 * lockdep splat would report. Never carries an errno a caller should see.
 * @public
 */
export class KernelBug extends Error {
  override readonly name = "KernelBug";
  /** Short report class, e.g. `'lockdep'`, `'WARN'`, `'refcount'`. */
  readonly kind: string;
  constructor(kind: string, message: string) {
    super(`${kind}: ${message}`);
    this.kind = kind;
  }
}
