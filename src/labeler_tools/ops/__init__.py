"""What ``labeler``'s operator commands do, free of the command line and of the terminal.

- ``target``: find the deployment (a running ``labeler local`` or a CloudFormation stack) and its clients
- ``records``: read the results table (as the pipeline's ``ResultRecord``, or unreadable)
- ``executions``: list and explain Step Functions executions
- ``upload``: put files into the upload bucket and wait for their records
- ``replay``: re-run failed items (redrive, or a new execution under a derived name)
- ``delete``: delete uploads and follow their cleanup

Results are models (``--json`` prints them as they are). ``labeler_tools.cli`` parses options, calls
these, renders them (``labeler_tools.cli.render``: rich tables and panels) and picks the exit code.
"""
