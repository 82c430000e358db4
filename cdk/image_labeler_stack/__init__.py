"""The Image Labeler CDK stack: one construct per concern; names and settings from ``labeler.blueprint``."""
