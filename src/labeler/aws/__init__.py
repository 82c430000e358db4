"""Data access: every call to an AWS API made by the pipeline lives in this package."""
