"""The local runtime: moto as the embedded AWS, with hooks (``hooks``) that run our real handlers, in
sandbox processes (``labeler local``) or in this process (the tests)."""
