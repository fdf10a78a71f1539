// security/selinux/hooks.c and avc.c: the SELinux LSM, its class map and access vector cache.
import { KernelError, securityContextType, type Cred, type Kernel, type KernelModule } from "@dmabuf-sdk/dmabuf-core";
import type { InjectionToken } from "tsyringe";
import { LSM_ID_SELINUX, securityAddHooks, securityModule, type LsmId } from "../security.js";
import { parseSelinuxPolicy, type SelinuxPolicy } from "./policy.js";

/**
 * The kernel's class map (`secclass_map`) as far as the model needs it:
 * patch 4/5 appends `dma_heap` with its one permission `charge_to`.
 * @public
 */
export const SELINUX_KERNEL_CLASSES: ReadonlyMap<string, readonly string[]> = new Map([["dma_heap", ["charge_to"]]]);

/** `selinux_lsmid`. @public */
export const selinuxLsmId: LsmId = Object.freeze({ name: "selinux", id: LSM_ID_SELINUX });

/** One AVC audit record, as the kernel logs it. @public */
export interface AvcAuditRecord {
  /** `denied` (true) or `granted` (an `auditallow` rule). */
  readonly denied: boolean;
  /** The permissions in `{ … }`. */
  readonly perms: readonly string[];
  /** `pid=`: the thread group of `current` (the allocating process). */
  readonly pid: number;
  /** `comm=`: `current->comm`. */
  readonly comm: string;
  /** `scontext=`: the source (allocator's) context. */
  readonly scontext: string;
  /** `tcontext=`: the target (charged process's) context. */
  readonly tcontext: string;
  /** `tclass=`: `dma_heap`. */
  readonly tclass: string;
  /** Denials only: 1 when the access was allowed anyway (permissive mode or domain). */
  readonly permissive?: 0 | 1;
  /** The record's text: `avc:  denied  { charge_to } for  pid=…`. */
  readonly text: string;
}

/** `struct av_decision` cached by the AVC. */
interface AvDecision {
  readonly allowed: Set<string>;
  readonly auditallow: ReadonlySet<string>;
  /** Permissions whose denial is audited (all but `dontaudit`). */
  readonly auditdeny: ReadonlySet<string>;
  /** `AVD_FLAGS_PERMISSIVE`: the source domain is permissive. */
  readonly permissive: boolean;
}

/** SELinux state of one kernel: policy, enforcing flag, sidtab, AVC, audit records. */
class SelinuxState {
  policy: SelinuxPolicy | null = null;
  enforcing: boolean;
  /** The kernel classes (and their permissions) the loaded policy does not define: `handle_unknown` decides them. */
  unknown = new Map<string, Set<string>>();
  readonly sids = new Map<string, number>();
  readonly contexts: string[] = [""];
  readonly avc = new Map<string, AvDecision>();
  readonly records: AvcAuditRecord[] = [];
  seqno = 0;
  serial = 0;
  avcLookups = 0;
  avcMisses = 0;

  constructor(
    readonly kernel: Kernel,
    enforcing: boolean,
  ) {
    this.enforcing = enforcing;
  }

  sid(context: string): number {
    let sid = this.sids.get(context);
    if (sid === undefined) {
      sid = this.contexts.length;
      this.contexts.push(context);
      this.sids.set(context, sid);
    }
    return sid;
  }

  /** `avc_ss_reset()`: drops every cached decision. */
  flush(): void {
    this.avc.clear();
    this.seqno++;
  }
}

const SelinuxStateToken: InjectionToken<SelinuxState> = Symbol.for("@dmabuf-sdk/memcg-lsm/SelinuxState");

function stateOf(kernel: Kernel): SelinuxState {
  const s = kernel.providers(SelinuxStateToken)[0];
  if (!s) throw new KernelError("ENOENT", "selinuxfs", "SELinux is not loaded");
  return s;
}

/**
 * `security_compute_av()`: the decision for (source context, target context,
 * class) from the policy, with `handle_unknown` for a class or permission the
 * policy does not define.
 */
function computeAv(s: SelinuxState, scontext: string, tcontext: string, tclass: string): AvDecision {
  const policy = s.policy!;
  const kernelPerms = SELINUX_KERNEL_CLASSES.get(tclass) ?? [];
  const stype = securityContextType(scontext);
  const ttype = securityContextType(tcontext);
  const rule = policy.rule(stype, ttype, tclass);
  const allowed = new Set<string>();
  const unknown = s.unknown.get(tclass);
  for (const p of kernelPerms) {
    if (unknown?.has(p)) {
      if (policy.handleUnknown === "allow") allowed.add(p);
    } else if (rule?.allow.has(p)) allowed.add(p);
  }
  const auditdeny = new Set(kernelPerms.filter((p) => !rule?.dontaudit.has(p)));
  return { allowed, auditallow: new Set(rule?.auditallow ?? []), auditdeny, permissive: policy.permissive.has(stype) };
}

/** `audit_log_end()` without auditd: the record goes to the kernel log as `audit: type=N audit(sec.msec:serial): …`. */
function auditLog(s: SelinuxState, type: number, text: string): void {
  const ns = s.kernel.clock.nowNs;
  const stamp = `${Math.floor(ns / 1e9)}.${String(Math.floor((ns % 1e9) / 1e6)).padStart(3, "0")}:${++s.serial}`;
  s.kernel.printk.log("notice", `audit: type=${type} audit(${stamp}): ${text}`);
}

/** `audit_log_untrustedstring()`: quoted when clean, hex otherwise. */
function untrusted(s: string): string {
  const clean = [...s].every((c) => c !== '"' && c.charCodeAt(0) > 0x20 && c.charCodeAt(0) < 0x7f);
  return clean ? `"${s}"` : [...new TextEncoder().encode(s)].map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join("");
}

/** `avc_audit()` → `common_lsm_audit()`: logs `type=1400` (AVC) with the kernel's exact spacing. */
function avcAudit(s: SelinuxState, denied: boolean, perm: string, scontext: string, tcontext: string, tclass: string, result: number): void {
  const k = s.kernel;
  const cur = k.current;
  const permissive = denied ? ((result ? 0 : 1) as 0 | 1) : undefined;
  const text =
    `avc:  ${denied ? "denied" : "granted"}  { ${perm} } for  pid=${cur.tgid} comm=${untrusted(cur.comm)}` +
    ` scontext=${scontext} tcontext=${tcontext} tclass=${tclass}${denied ? ` permissive=${permissive}` : ""}`;
  auditLog(s, 1400, text);
  k.trace.emit("selinux_audited", { denied, scontext, tcontext, tclass, permissive: permissive ?? 0 });
  s.records.push({ denied, perms: [perm], pid: cur.tgid, comm: cur.comm, scontext, tcontext, tclass, ...(denied ? { permissive } : {}), text });
}

/**
 * `avc_has_perm(ssid, tsid, tclass, requested, NULL)` for one permission,
 * with contexts instead of SIDs. Before a policy is loaded everything is
 * allowed silently. A denial is audited (unless `dontaudit`) and refused with
 * `EACCES` in enforcing mode; in permissive mode, or for a permissive domain,
 * it is audited with `permissive=1`, allowed, and the permission is added to
 * the cached decision (`avc_update_node(AVC_CALLBACK_GRANT)`), so the same
 * access is not logged again until the AVC is reset (policy load, or a
 * switch to enforcing). Grants are audited only under `auditallow`.
 * @throws KernelError `EACCES`.
 * @public
 */
export function avcHasPerm(kernel: Kernel, scontext: string, tcontext: string, tclass: string, perm: string): void {
  const s = stateOf(kernel);
  if (!s.policy) return; // !selinux_initialized()
  s.avcLookups++;
  const key = `${s.sid(scontext)}:${s.sid(tcontext)}:${tclass}`;
  let avd = s.avc.get(key);
  if (!avd) {
    s.avcMisses++;
    avd = computeAv(s, scontext, tcontext, tclass);
    s.avc.set(key, avd);
  }
  const denied = !avd.allowed.has(perm);
  let rc = 0;
  if (denied) {
    if (s.enforcing && !avd.permissive) rc = -13;
    else avd.allowed.add(perm);
  }
  if (denied ? avd.auditdeny.has(perm) : avd.auditallow.has(perm)) avcAudit(s, denied, perm, scontext, tcontext, tclass, rc);
  if (rc) throw new KernelError("EACCES", "avc_has_perm", `${perm} ${securityContextType(scontext)} -> ${securityContextType(tcontext)}:${tclass}`);
}

/**
 * `selinux_dma_heap_alloc(from, to)` (patch 4/5): `avc_has_perm(cred_sid(from),
 * cred_sid(to), SECCLASS_DMA_HEAP, DMA_HEAP__CHARGE_TO)`: source is the
 * allocator's domain, target the charged process's domain.
 * @public
 */
export function selinuxDmaHeapAlloc(kernel: Kernel, from: Cred, to: Cred): void {
  avcHasPerm(kernel, from.security, to.security, "dma_heap", "charge_to");
}

/**
 * `load_policy`: compiles `text` (see {@link parseSelinuxPolicy}), maps the
 * kernel's classes onto it and replaces the running policy, resetting the
 * AVC. A kernel class or permission the policy does not define is logged
 * and handled by the policy's `handle_unknown`; with `reject` the load fails.
 * @throws KernelError `EINVAL` (syntax, or unknown classes under `reject`), `ENOENT` (SELinux not loaded).
 * @public
 */
export function selinuxLoadPolicy(kernel: Kernel, text: string): SelinuxPolicy {
  const s = stateOf(kernel);
  const policy = parseSelinuxPolicy(text);
  const unknown = new Map<string, Set<string>>();
  for (const [cls, perms] of SELINUX_KERNEL_CLASSES) {
    const defined = policy.classes.get(cls);
    if (!defined) {
      kernel.printk.info(`SELinux:  Class ${cls} not defined in policy.`);
      unknown.set(cls, new Set(perms));
      continue;
    }
    for (const p of perms) {
      if (!defined.has(p)) {
        kernel.printk.info(`SELinux:  Permission ${p} in class ${cls} not defined in policy.`);
        let set = unknown.get(cls);
        if (!set) unknown.set(cls, (set = new Set()));
        set.add(p);
      }
    }
  }
  if (unknown.size) {
    if (policy.handleUnknown === "reject") {
      kernel.printk.err("SELinux:  the above unknown classes and permissions will be rejected");
      throw new KernelError("EINVAL", "security_load_policy", "unknown classes or permissions with handle_unknown reject");
    }
    kernel.printk.info(`SELinux:  the above unknown classes and permissions will be ${policy.handleUnknown === "allow" ? "allowed" : "denied"}`);
  }
  s.policy = policy;
  s.unknown = unknown;
  s.flush();
  auditLog(s, 1403, "auid=4294967295 ses=4294967295 lsm=selinux res=1"); // AUDIT_MAC_POLICY_LOAD
  return policy;
}

/**
 * `/sys/fs/selinux/enforce` write (`setenforce`). Switching to enforcing
 * resets the AVC, dropping what permissive mode granted.
 * @public
 */
export function selinuxSetEnforce(kernel: Kernel, enforcing: boolean): void {
  const s = stateOf(kernel);
  if (s.enforcing === enforcing) return;
  s.enforcing = enforcing;
  if (enforcing) s.flush();
  // AUDIT_MAC_STATUS
  auditLog(s, 1404, `enforcing=${enforcing ? 1 : 0} old_enforcing=${enforcing ? 0 : 1} auid=4294967295 ses=4294967295 enabled=1 old-enabled=1 lsm=selinux res=1`);
}

/** `/sys/fs/selinux/enforce` read (`getenforce`). @public */
export function selinuxEnforcing(kernel: Kernel): boolean {
  return stateOf(kernel).enforcing;
}

/** The loaded policy, or null before `load_policy`. @public */
export function selinuxPolicy(kernel: Kernel): SelinuxPolicy | null {
  return stateOf(kernel).policy;
}

/** AVC records logged so far (also in the kernel log as `audit: type=1400 …`). @public */
export function selinuxAuditRecords(kernel: Kernel): readonly AvcAuditRecord[] {
  return stateOf(kernel).records;
}

/** `/sys/fs/selinux/avc/cache_stats` in brief: lookups and misses. @public */
export function selinuxAvcStats(kernel: Kernel): { readonly lookups: number; readonly misses: number; readonly entries: number } {
  const s = stateOf(kernel);
  return { lookups: s.avcLookups, misses: s.avcMisses, entries: s.avc.size };
}

/** Boot parameters of SELinux. @public */
export interface SelinuxParams {
  /** `enforcing=` on the command line (default 1). */
  readonly enforcing?: boolean;
}

function defineSelinuxModule(params: SelinuxParams): KernelModule {
  return {
    name: "selinux",
    license: "GPL",
    description: "SELinux-style LSM: contexts on creds, the dma_heap class and its charge_to permission (security/selinux)",
    requires: [securityModule],
    init(ctx) {
      const s = new SelinuxState(ctx.kernel, params.enforcing ?? true);
      ctx.provide(SelinuxStateToken, s);
      securityAddHooks(ctx, { dmaHeapAlloc: (from, to) => selinuxDmaHeapAlloc(ctx.kernel, from, to) }, selinuxLsmId);
      ctx.kernel.printk.info(`SELinux:  Initializing.${s.enforcing ? "" : " (permissive)"}`);
    },
  };
}

/**
 * The SELinux-style LSM: labels are `cred.security` contexts
 * (`user:role:type:level`), policy comes from {@link selinuxLoadPolicy},
 * decisions go through an AVC with the kernel's audit records. Boots
 * enforcing; until a policy is loaded it allows everything.
 * @public
 */
export const selinuxModule: KernelModule = defineSelinuxModule({});

/** SELinux booted with parameters, e.g. `selinuxModuleWithParams({ enforcing: false })` for `enforcing=0`. @public */
export function selinuxModuleWithParams(params: SelinuxParams): KernelModule {
  return defineSelinuxModule(params);
}
