// Whether onnxruntime's WebGPU execution provider can start on this machine, for the tests that
// compare it with the CPU EP (they skip, with the reason, where it cannot).
import { upload } from "../../src/engine/ort/device-tensors.ts";

/** Why the WebGPU EP cannot run here, or null when it can (a one-element upload starts it). */
export function webgpuUnavailable(): string | null {
  process.env.XDG_RUNTIME_DIR ??= "/tmp";
  try {
    upload(new Float32Array(1), [1], "float32").dispose();
    return null;
  } catch (e) {
    return (e as Error).message.split("\n")[0];
  }
}
