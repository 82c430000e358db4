"""The offline vision model as data: EfficientNet-Lite0 (ImageNet-1k) in ONNX, its class names, its digest.

No code: ``labeler.labels.onnx_backend`` finds this package and reads the files next to this one
(MODEL_CARD.md says where they come from, ``scripts/export_model.py`` re-creates them). A package of its
own because it is not part of the runtime layer: it ships only where the offline model runs.
"""
