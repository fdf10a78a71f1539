// Per-kernel state a file or package keeps about a kernel or its objects (what a static or a per-device field is in C).
import { KernelBug } from "./kernel-error.js";
import type { Kernel } from "./kernel.js";

// Kernel's static block hands over the accessor of its private state map, once; only this file holds it.
let kernelLocals: ((k: Kernel) => Map<object, unknown>) | undefined;

/**
 * @internal Called by the Kernel class as it is defined: takes the accessor
 * of every kernel's state map. A second call (a deep import of this file by
 * anyone else) is a {@link KernelBug}.
 */
export function installKernelLocals(accessor: (k: Kernel) => Map<object, unknown>): void {
  if (kernelLocals) throw new KernelBug("kernel", "the per-kernel state accessor is already installed");
  kernelLocals = accessor;
}

function localsOf(k: Kernel): Map<object, unknown> {
  if (!kernelLocals) throw new KernelBug("kernel", "KernelLocal used before the Kernel class was defined");
  return kernelLocals(k);
}

/**
 * State a package keeps per kernel, found by this object as a private key: a
 * drop-in for a module-level `WeakMap<Kernel, V>`. The value lives inside the
 * kernel, so it goes with it. A module-level `WeakMap` would do the same for a
 * full GC, but V8 11 (Node 20) scavenges keep every young value of an
 * old-space `WeakMap` alive, so each case's kernel outlived the case by a
 * whole scavenge cycle and was promoted (a conformance run promoted 38 MB
 * instead of 7).
 * @public
 */
export class KernelLocal<V> {
  /** `name` is for debugging only. */
  constructor(readonly name: string) {}

  get(k: Kernel): V | undefined {
    return localsOf(k).get(this) as V | undefined;
  }

  set(k: Kernel, v: V): this {
    localsOf(k).set(this, v);
    return this;
  }

  has(k: Kernel): boolean {
    return localsOf(k).has(this);
  }

  delete(k: Kernel): boolean {
    return localsOf(k).delete(this);
  }
}

/**
 * A drop-in for a module-level `WeakMap<K, V>` whose keys belong to a kernel
 * (devices, buffers, fences, tasks): one `WeakMap` per kernel, kept inside
 * it, for the reason given at {@link KernelLocal}. `kernelOf` finds a key's
 * kernel.
 * @public
 */
export class KernelWeakMap<K extends object, V> {
  readonly #maps: KernelLocal<WeakMap<K, V>>;
  readonly #kernelOf: (key: K) => Kernel;

  constructor(name: string, kernelOf: (key: K) => Kernel) {
    this.#maps = new KernelLocal(name);
    this.#kernelOf = kernelOf;
  }

  get(key: K): V | undefined {
    return this.#maps.get(this.#kernelOf(key))?.get(key);
  }

  set(key: K, v: V): this {
    const k = this.#kernelOf(key);
    let m = this.#maps.get(k);
    if (!m) this.#maps.set(k, (m = new WeakMap()));
    m.set(key, v);
    return this;
  }

  has(key: K): boolean {
    return this.#maps.get(this.#kernelOf(key))?.has(key) ?? false;
  }

  delete(key: K): boolean {
    return this.#maps.get(this.#kernelOf(key))?.delete(key) ?? false;
  }
}
