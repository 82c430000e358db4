"""Image Labeler: label photos uploaded to S3 with a serverless pipeline, on AWS or on one machine."""

__version__ = "0.1.0"
