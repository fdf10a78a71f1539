// Per-case objects with computed read-only properties, their getters on a shared prototype (a V8 11 workaround).
const GETTERS = Symbol("withGetters");
const PROTOS = new Map<string, object>();

type Getters = Record<string, () => unknown>;

/**
 * `obj` plus read-only properties computed by `getters`, for the objects a
 * fixture builds on every case (an {@link ImportedBuffer}'s `attachment` and
 * `mapped`). Write this instead of `get mapped() {…}` in an object literal:
 * under V8 11 (Node 20) an object literal with an accessor gets a map of its
 * own, in old space, and what its getter reaches (the whole case: the kernel,
 * its devices and buffers) survives every scavenge until the next full GC. The
 * getters here live on one prototype per set of names and read per-object
 * functions, so nothing of the case is reachable from old space.
 * @public
 */
export function withGetters<T extends object, G extends Getters>(obj: T, getters: G): T & { readonly [K in keyof G]: ReturnType<G[K]> } {
  const names = Object.keys(getters).sort();
  const key = names.join("\0");
  let proto = PROTOS.get(key);
  if (!proto) {
    proto = Object.create(Object.prototype) as object;
    for (const name of names) {
      Object.defineProperty(proto, name, {
        // Read on the prototype itself (an inspector walking it), there is nothing to compute.
        get(this: { [GETTERS]?: Getters }) {
          return this[GETTERS]?.[name]!();
        },
        enumerable: true,
      });
    }
    PROTOS.set(key, Object.freeze(proto));
  }
  const out = Object.create(proto) as T & { [GETTERS]: G };
  Object.assign(out, obj);
  Object.defineProperty(out, GETTERS, { value: getters });
  return out as T & { readonly [K in keyof G]: ReturnType<G[K]> };
}
