"""The local runtime: moto as the embedded AWS, with hooks that run our real handlers in process."""
