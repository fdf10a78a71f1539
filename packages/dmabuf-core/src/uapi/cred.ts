// include/linux/cred.h: struct cred, the identity of a task and the security label LSMs check.
/**
 * `struct cred`: identity of a task and the security label LSMs look at.
 * Immutable, as creds are after `commit_creds()`; change them with
 * {@link prepareCreds}.
 * @public
 */
export interface Cred {
  readonly uid: number;
  readonly gid: number;
  readonly euid: number;
  readonly egid: number;
  /** Security context (SELinux-style `user:role:type:level`), the LSM blob of the model. */
  readonly security: string;
}

/** Root credentials with the kernel's initial label. @public */
export const INIT_CRED: Cred = Object.freeze({ uid: 0, gid: 0, euid: 0, egid: 0, security: "system_u:system_r:kernel_t:s0" });

/** `prepare_creds()` + modification: a new cred based on `old`. @public */
export function prepareCreds(old: Cred, changes: Partial<Cred>): Cred {
  return Object.freeze({ ...old, ...changes });
}

/** The type field of a `user:role:type:level` context (`'kernel_t'`). @public */
export function securityContextType(ctx: string): string {
  return ctx.split(":")[2] ?? ctx;
}
