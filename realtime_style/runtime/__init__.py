"""Running a transform net on a device: the engine, its CUDA helpers and its CPU tuning.

``engine``        a net on one device: uint8 frames in, uint8 frames out, batched
``pending``       results that are still on their way back from the device
``cuda_streams``  side streams and page-locked buffers for overlapping copies (CUDA)
``cuda_graphs``   captured graphs per input shape (CUDA)
``allocator``     glibc malloc tuning for repeated same-sized activations (CPU)
``color``         strength and colour preservation (a frame's ``Look``), on the device
``process``       the process-wide settings (threads, malloc, cuDNN), made once at the entry point
"""
