"""What ``labeler``'s operator commands do, free of the command line.

- ``target``: find the deployment (a running ``labeler local`` or a CloudFormation stack) and its clients
- ``records``: read the results table
- ``executions``: list and explain Step Functions executions
- ``upload``: put files into the upload bucket and wait for their records
- ``replay``: re-run failed items (redrive, or a new execution under a derived name)
- ``render``: rich tables and panels for all of the above

``labeler_tools.cli`` parses options, calls these, renders and picks the exit code.
"""
