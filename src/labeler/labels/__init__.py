"""Label backends, each a ``labeler.ports.LabelBackend``: Rekognition on AWS, an offline model locally.

``labeler.wiring`` picks one by name (``LABELER_LABEL_BACKEND``).
"""
