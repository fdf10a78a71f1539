// kernel/cgroup/cgroup.c: the cgroup v2 tree and process membership that controllers build on.
import { KernelError } from "../kernel/kernel-error.js";
import type { Task } from "./task.js";

/**
 * A cgroup v2 directory. Core keeps the tree and membership; controllers
 * (memcg in memcg-lsm) keep their per-cgroup state with `Cgroup.state`.
 * @public
 */
export class Cgroup {
  readonly children = new Map<string, Cgroup>();
  readonly #procs = new Set<Task>();
  readonly #state = new Map<object, unknown>();
  /** `rmdir` done: the cgroup is offline (css may live on while charged). */
  removed = false;

  constructor(
    readonly name: string,
    readonly parent: Cgroup | null,
  ) {}

  // `name` and `parent` never change, so the path is built once.
  #path: string | undefined;

  /** Path from the root, `/` for the root. */
  get path(): string {
    if (this.#path !== undefined) return this.#path;
    const p = this.parent ? this.parent.path : "";
    this.#path = !this.parent ? "/" : p === "/" ? `/${this.name}` : `${p}/${this.name}`;
    return this.#path;
  }

  /** Depth below the root (root = 0). */
  get level(): number {
    return this.parent ? this.parent.level + 1 : 0;
  }

  /** Tasks in this cgroup (`cgroup.procs`). */
  procs(): Task[] {
    return [...this.#procs];
  }

  /** This cgroup and its ancestors, nearest first. */
  *ancestors(): Generator<Cgroup> {
    yield this;
    if (this.parent) yield* this.parent.ancestors();
  }

  /** Controller state attached under `key` (created by `init` on first use). */
  state<T>(key: object, init: () => T): T {
    if (!this.#state.has(key)) this.#state.set(key, init());
    return this.#state.get(key) as T;
  }

  /** @internal */
  _addProc(t: Task): void {
    this.#procs.add(t);
  }
  /** @internal */
  _removeProc(t: Task): void {
    this.#procs.delete(t);
  }
}

/** The cgroup v2 hierarchy of one kernel. @public */
export class CgroupRoot {
  readonly root = new Cgroup("", null);

  /** `mkdir`: `EEXIST` if present, `ENOENT` under a removed parent, `EINVAL` for a bad name. */
  mkdir(parent: Cgroup, name: string): Cgroup {
    if (!name || name.includes("/") || name === "." || name === "..") throw new KernelError("EINVAL", "cgroup_mkdir", `bad name "${name}"`);
    if (parent.removed) throw new KernelError("ENOENT", "cgroup_mkdir", `${parent.path} was removed`);
    if (parent.children.has(name)) throw new KernelError("EEXIST", "cgroup_mkdir", `${parent.path}/${name}`);
    const c = new Cgroup(name, parent);
    parent.children.set(name, c);
    return c;
  }

  /** `mkdir -p` from the root, e.g. `'/a/b/c'`. */
  mkdirP(path: string): Cgroup {
    let c = this.root;
    for (const part of path.split("/").filter(Boolean)) c = c.children.get(part) ?? this.mkdir(c, part);
    return c;
  }

  /** Looks up `path`, or undefined. */
  lookup(path: string): Cgroup | undefined {
    let c: Cgroup | undefined = this.root;
    for (const part of path.split("/").filter(Boolean)) c = c?.children.get(part);
    return c;
  }

  /**
   * `rmdir`: `EBUSY` while it has tasks or children; the root cannot be removed.
   * Controller state stays reachable from objects still charged to it.
   */
  rmdir(c: Cgroup): void {
    if (!c.parent) throw new KernelError("EBUSY", "cgroup_rmdir", "root");
    if (c.procs().length || c.children.size) throw new KernelError("EBUSY", "cgroup_rmdir", c.path);
    c.parent.children.delete(c.name);
    c.removed = true;
  }

  /** Moves `task` into `to` (a write to `cgroup.procs`); `ENOENT` for a removed cgroup. */
  migrate(task: Task, to: Cgroup): void {
    if (to.removed) throw new KernelError("ENOENT", "cgroup_migrate", to.path);
    task.cgroup._removeProc(task);
    task.cgroup = to;
    to._addProc(task);
  }
}
