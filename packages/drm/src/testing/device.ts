// A DRM test device (as the DRM kunit helpers' mock device): a virtual parent, a syncobj-capable driver and a fence ring.
import { Device, DmaFence, SpinLock, dmaFenceContextAlloc, dmaFencePut, dmaFenceGet, dmaFenceSetError, dmaFenceSignal, type Kernel } from "@dmabuf-sdk/dmabuf-core";
import { DRIVER_RENDER, DRIVER_SYNCOBJ, DRIVER_SYNCOBJ_TIMELINE, drmDevAlloc, drmDevRegister, type DrmDevice, type DrmDriver } from "../drm-drv.js";

/** Options of {@link drmTestDevice}. @public */
export interface DrmTestDeviceOptions {
  /** Driver features (default render node + binary and timeline syncobjs). */
  readonly features?: number;
  /** Name of the driver and of its parent device. */
  readonly name?: string;
  /** The driver's fence error on unplug (default the documented `ENODEV`; `null` signals without error). */
  readonly unplugFenceError?: DrmDriver["unplugFenceError"];
}

/**
 * The test device's hardware ring: fences on one timeline that the test
 * completes in order. On unplug every pending fence is force-completed with
 * the driver's unplug error, as a real driver's removal path does.
 * @public
 */
export class DrmTestRing {
  readonly context: bigint;
  readonly lock: SpinLock;
  readonly pending: DmaFence[] = [];
  #seqno = 0n;

  constructor(readonly dev: DrmDevice) {
    const k = dev.kernel;
    this.context = dmaFenceContextAlloc(k, 1);
    this.lock = new SpinLock({ lockdep: k.lockdep, current: () => k.current }, `${dev.driver.name} ring lock`, "drm_test_ring_lock");
    dev.unplugHooks.push(() => this.forceCompletion());
  }

  /** Emits a job's hardware fence (the caller gets a reference; the ring keeps one until completion). */
  emit(): DmaFence {
    const name = this.dev.driver.name;
    const f = new DmaFence(this.dev.kernel, { getDriverName: () => name, getTimelineName: () => "ring0" }, this.lock, this.context, ++this.#seqno);
    this.pending.push(dmaFenceGet(f));
    return f;
  }

  /** The hardware completes the oldest `n` jobs. */
  retire(n = 1): void {
    for (const f of this.pending.splice(0, n)) {
      dmaFenceSignal(f);
      dmaFencePut(f);
    }
  }

  /** Unplug: every pending fence signals, with the driver's error (or none). */
  forceCompletion(): void {
    const err = this.dev.unplugFenceError;
    for (const f of this.pending.splice(0)) {
      if (err) dmaFenceSetError(f, err);
      dmaFenceSignal(f);
      dmaFencePut(f);
    }
  }
}

const RINGS = new WeakMap<DrmDevice, DrmTestRing>();

/** The ring of a test device. @public */
export function drmTestRing(dev: DrmDevice): DrmTestRing {
  const r = RINGS.get(dev);
  if (!r) throw new Error(`${dev} is not a DRM test device`);
  return r;
}

/** Allocates and registers a DRM device on a new virtual parent device; its nodes appear under `/dev/dri`. @public */
export function drmTestDevice(kernel: Kernel, opts: DrmTestDeviceOptions = {}): DrmDevice {
  const name = opts.name ?? "drm-test";
  const driver: DrmDriver = {
    name,
    desc: "DRM test device",
    driverFeatures: opts.features ?? DRIVER_RENDER | DRIVER_SYNCOBJ | DRIVER_SYNCOBJ_TIMELINE,
    ...(opts.unplugFenceError !== undefined ? { unplugFenceError: opts.unplugFenceError } : {}),
  };
  const dev = drmDevAlloc(driver, new Device(kernel, `${name}.${kernel.nextIno()}`, "virtual"));
  RINGS.set(dev, new DrmTestRing(dev));
  drmDevRegister(dev);
  return dev;
}
