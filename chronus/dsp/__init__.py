"""chronus.dsp: the module API, the patch, the graph and the one render path.

- `params`, `specs`, `errors`, `patch`: pure data and validation (no numba; the supervisor
  uses these).
- `kernels`: the numba per-sample loops. `module`, `synth`, `drums`, `catalog`: modules.
- `graph`: modules mixed to the limited master. `render`: stamped commands → samples.

Nothing is imported here, so `import chronus.dsp.patch` stays light.
"""
