"""What sits behind URL schemes and entry points: Storage Queue and Event Grid messaging, Blob and Table data, the
idempotency store, and the retry/table helpers they share. Each loads its Azure SDK on first use."""

import logging as _logging

#: azure-core logs every request and response of every client at INFO (its HTTP logging policy): about 15 lines per
#: handler call that reads a table and a blob, burying the invocation's own lines. Quieted to WARNING when these
#: backends load, unless the application set that logger's level itself.
SDK_REQUEST_LOGGER = "azure.core.pipeline.policies.http_logging_policy"
_sdk_requests = _logging.getLogger(SDK_REQUEST_LOGGER)
if _sdk_requests.level == _logging.NOTSET:
    _sdk_requests.setLevel(_logging.WARNING)
