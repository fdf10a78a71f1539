// security/security.c: the LSM framework, struct lsm_id and the hooks the model calls.
import { KernelError, exportSymbolGpl, provideSymbol, type Cred, type Kernel, type KernelModule, type ModuleContext } from "@dmabuf-sdk/dmabuf-core";
import type { InjectionToken } from "tsyringe";

/** `struct lsm_id`: the LSM's name and its `LSM_ID_*` number (include/uapi/linux/lsm.h). @public */
export interface LsmId {
  readonly name: string;
  readonly id: number;
}

/** `LSM_ID_CAPABILITY`. @public */
export const LSM_ID_CAPABILITY = 100;
/** `LSM_ID_SELINUX`. @public */
export const LSM_ID_SELINUX = 101;
/** `LSM_ID_SMACK`. @public */
export const LSM_ID_SMACK = 102;
/** `LSM_ID_APPARMOR`. @public */
export const LSM_ID_APPARMOR = 104;
/** `LSM_ID_LOCKDOWN`. @public */
export const LSM_ID_LOCKDOWN = 108;
/** `LSM_ID_BPF`. @public */
export const LSM_ID_BPF = 109;
/** `LSM_ID_LANDLOCK`. @public */
export const LSM_ID_LANDLOCK = 110;

/**
 * The LSM hooks the model defines (`lsm_hook_defs.h`). Every hook is
 * optional; an LSM implements the ones it cares about.
 * @public
 */
export interface SecurityHooks {
  /**
   * `dma_heap_alloc` (patch 3/5): may the process with credentials `from`
   * allocate dma-heap memory and charge it to the cgroup of the process with
   * credentials `to`? Called by `DMA_HEAP_IOCTL_ALLOC` whenever
   * `charge_pid_fd` is set (also for the caller's own pidfd), after the pidfd
   * is resolved and before anything is allocated. Return to grant; throw a
   * `KernelError` (e.g. `EACCES`, `EPERM`) to refuse: its errno reaches user
   * space unchanged.
   */
  dmaHeapAlloc?(from: Cred, to: Cred): void;
}

/** `struct security_hook_list` of one LSM: what `security_add_hooks()` registers. @public */
export interface SecurityHookList {
  readonly lsmid: LsmId;
  readonly hooks: SecurityHooks;
}

/**
 * DI token (multi-provider) of registered LSMs, in registration order: the
 * order `call_int_hook()` walks them (as the `lsm=` / `CONFIG_LSM` order).
 * @public
 */
export const SecurityHookList: InjectionToken<SecurityHookList> = Symbol.for("@dmabuf-sdk/memcg-lsm/SecurityHookList");

/**
 * `security_add_hooks(hooks, count, lsmid)`: registers an LSM's hooks from its
 * module's `init`; they are removed when the module unloads.
 * @throws KernelError `EEXIST` when an LSM of that name is registered; `EINVAL` without a name.
 * @public
 */
export function securityAddHooks(ctx: ModuleContext, hooks: SecurityHooks, lsmid: LsmId): void {
  if (!lsmid?.name) throw new KernelError("EINVAL", "security_add_hooks", "LSM without a name");
  if (ctx.kernel.providers(SecurityHookList).some((l) => l.lsmid.name === lsmid.name)) {
    throw new KernelError("EEXIST", "security_add_hooks", `LSM ${lsmid.name} is already registered`);
  }
  ctx.provide(SecurityHookList, Object.freeze({ lsmid, hooks }));
  ctx.kernel.printk.info(`LSM: initializing ${lsmid.name}`);
}

/** `/sys/kernel/security/lsm`: the active LSMs, in order. @public */
export function securityLsmList(kernel: Kernel): readonly LsmId[] {
  return kernel.providers(SecurityHookList).map((l) => l.lsmid);
}

/**
 * `security_dma_heap_alloc(from, to)`: `call_int_hook(dma_heap_alloc, from,
 * to)`. Each LSM that implements the hook is asked in order; the first
 * refusal ends the walk and is returned unchanged (the first non-zero return
 * wins). Without any LSM it grants, as the `!CONFIG_SECURITY` stub does.
 * @throws KernelError the refusing LSM's errno.
 * @public
 */
export function securityDmaHeapAlloc(kernel: Kernel, from: Cred, to: Cred): void {
  for (const l of kernel.providers(SecurityHookList)) l.hooks.dmaHeapAlloc?.(from, to);
}

/**
 * The LSM framework (`security/security.c`, built in): exports
 * `security_dma_heap_alloc` for the dma-heap module. LSMs register with
 * {@link securityAddHooks} from their own module.
 * @public
 */
export const securityModule: KernelModule = {
  name: "security",
  license: "GPL",
  description: "LSM framework: security_dma_heap_alloc() and hook stacking (security/security.c)",
  exports: [exportSymbolGpl("security_dma_heap_alloc")],
  init(ctx) {
    provideSymbol(ctx, "security_dma_heap_alloc", securityDmaHeapAlloc);
  },
};
