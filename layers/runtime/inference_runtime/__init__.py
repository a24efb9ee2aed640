"""inference_runtime: the shared runtime of the template's Lambda functions.

Subpackages, one concern each (the README's "How it fits together" and "Layout"):

- ``artifact``  manifest and verified reads of model files
- ``backends``  ONNX Runtime (CPU); imported only on the model-loading path
- ``lifecycle`` instance id, cold-start flag, init type, the phase trace
- ``api``       routes, validation, error responses, ALB event shapes
- ``config``    every environment variable, resolved in one place

Importing this package imports none of numpy, onnxruntime, torch or transformers.
"""

__version__ = "0.1.0"
