/**
 * For the WebGPU parity tests (test-only; not imported by production code): whether they must
 * run, and the error that fails them when the adapter is missing where they must.
 *
 * They must run under CI=true (.ci/run installs a software Vulkan driver, lavapipe, as root) and
 * wherever MDPO_REQUIRE_WEBGPU=1; elsewhere a machine without an adapter skips them.
 */
export function webgpuRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.MDPO_REQUIRE_WEBGPU === '1' || env.CI === 'true';
}

/** The failure of a required WebGPU test whose adapter did not start. */
export function webgpuMissing(cause: unknown): Error {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new Error(
    `The WebGPU parity tests must run here (CI=true or MDPO_REQUIRE_WEBGPU=1), but no WebGPU adapter started: ${why}. ` +
      'Install the software Vulkan driver (as root: bash scripts/ci/install-lavapipe.sh), or run outside CI to skip these tests.',
    { cause },
  );
}
