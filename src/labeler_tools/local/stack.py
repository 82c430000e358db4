"""``labeler local``: the whole system on one machine.

moto (with our hooks) as the AWS endpoint, the stack provisioned from ``labeler.blueprint``, the
offline model as the label backend, a web page, a watcher that shows failure notifications, and a
data dir that keeps uploads and results across restarts. A discovery file lets the CLI, tests and
any boto3 / aws-cli user find it.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import boto3

from labeler.aws.results import ResultsRepository, item_to_record
from labeler.blueprint import DEFAULT_QUOTA, FUNCTIONS_BY_NAME, PageConfig, QuotaSpec
from labeler.models import ResultRecord
from labeler_tools.deployment import (
    DEFAULT_DATA_DIR,
    Discovery,
    LocalResources,
    StackNames,
    discovery_path,
    write_discovery,
)
from labeler_tools.local.hooks import s3_storage
from labeler_tools.local.hooks.cognitoidentity import rename_identity_pool
from labeler_tools.local.hooks.stepfunctions import prune_finished_executions
from labeler_tools.local.lambda_runtime import DEFAULT_SANDBOXES_PER_FUNCTION
from labeler_tools.local.persistence import Snapshot
from labeler_tools.local.provision import provision, set_upload_delivery
from labeler_tools.local.server import REGION, LocalAws
from labeler_tools.local.web import WebServer
from labeler_tools.ops.target import Target

log = logging.getLogger("labeler_tools.local")


def _return_large_buffers_to_the_system() -> None:
    """Request bodies (an upload's MBs) in mmap'd blocks, unmapped when freed: with glibc's adaptive
    threshold they come from the threads' heaps once one was freed, which then keep growing."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").mallopt(-3, 1024 * 1024)  # M_MMAP_THRESHOLD


@dataclass(frozen=True)
class LocalOptions:
    host: str = "127.0.0.1"
    port: int = 4566
    web_port: int = 8080
    data_dir: Path = DEFAULT_DATA_DIR
    label_backend: Literal["onnx", "rekognition"] = "onnx"
    min_confidence: float | None = None
    max_labels: int = 10
    persist: bool = True
    #: Seconds between snapshots of uploads and results (also taken at shutdown).
    snapshot_interval_s: float = 30.0
    #: Fault injection: the first N label calls fail (LabelServiceThrottled), then the backend heals.
    #: The label function then runs one sandbox, which counts every call.
    fail_first_label_calls: int = 0
    #: Sandbox processes each function may run at once (the local analogue of reserved concurrency).
    sandboxes_per_function: int = DEFAULT_SANDBOXES_PER_FUNCTION
    #: Finished executions kept in memory (older ones are forgotten, so memory stays bounded).
    keep_executions: int = 1000
    prefix: str = "image-labeler"
    #: The daily quotas of the AWS stack's defaults, so the local page behaves like a deployed one.
    quota: QuotaSpec = DEFAULT_QUOTA


@dataclass
class LocalStack:
    options: LocalOptions
    on_notification: Any = None  # Callable[[dict[str, Any]], None]; called for each failure message
    aws: LocalAws | None = field(default=None, init=False)
    stack: LocalResources | None = field(default=None, init=False)
    web: WebServer | None = field(default=None, init=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)

    @property
    def names(self) -> StackNames:
        return StackNames(prefix=self.options.prefix)

    @property
    def snapshot(self) -> Snapshot:
        return Snapshot(self.options.data_dir / "state")

    def _function_environment(self) -> dict[str, str]:
        environment = {
            "LABELER_RESULTS_TABLE": self.names.results_table,
            "LABELER_LABEL_BACKEND": self.options.label_backend,
            "LABELER_MAX_LABELS": str(self.options.max_labels),
            "LABELER_FAIL_FIRST_LABEL_CALLS": str(self.options.fail_first_label_calls),
        }
        if self.options.min_confidence is not None:
            environment["LABELER_MIN_CONFIDENCE"] = str(self.options.min_confidence)
        return environment

    def _sandbox_limits(self) -> dict[str, int]:
        """With an outage rehearsed, one label sandbox counts every label call."""
        if not self.options.fail_first_label_calls:
            return {}
        return {self.names.function(FUNCTIONS_BY_NAME["label"]): 1}

    def start(self) -> Discovery:
        """Bring everything up; returns what the discovery file holds."""
        options = self.options
        options.data_dir.mkdir(parents=True, exist_ok=True)
        _return_large_buffers_to_the_system()
        # Object bodies on disk, not in memory: in the snapshot's folder, which then copies none.
        s3_storage.use_folder(self.snapshot.bodies_dir if options.persist else None)
        environment = self._function_environment()
        self.aws = LocalAws(
            self.names.handler_modules(),
            host=options.host,
            port=options.port,
            sandboxes=True,
            sandboxes_per_function=options.sandboxes_per_function,
            sandbox_limits={self.names.function(FUNCTIONS_BY_NAME["label"]): 1}
            if options.fail_first_label_calls
            else {},
        ).start()
        session = self.aws.session()
        self.stack = provision(
            session, self.names, environment=environment, quota=options.quota, deliver_uploads=False
        )
        if options.persist:
            self.stack = self._same_identity_pool_as_before(self.stack)
            restored = self.snapshot.restore(session, self.stack)
            log.info("restored %(objects)d uploads and %(records)d records", restored)
        set_upload_delivery(session, self.stack, enabled=True)
        self.aws.warm_up()
        self.web = WebServer(
            options.host,
            options.web_port,
            self._frontend_config(),
            self.recent_records,
            # The executions view: this stack as `labeler executions` sees it.
            executions=Target(
                description=f"local stack at {self.aws.endpoint_url}",
                deployment=self.stack,
                session=session,  # in this process: routed to moto's backends directly
                local=True,
            ),
        ).start()
        self._spawn(self._watch_notifications, "labeler-notifications")
        self._spawn(self._bound_memory, "labeler-memory")
        if options.persist:
            self._spawn(self._snapshot_periodically, "labeler-snapshots")
        # Everything loaded so far (moto, botocore models, the ONNX session) lives as long as the
        # stack: keep it out of the collector's full passes, which otherwise stall every thread
        # under load (the p99 before and after: README, "Run locally").
        gc.freeze()
        discovery = self.discovery()
        write_discovery(options.data_dir, discovery)
        return discovery

    def discovery(self) -> Discovery:
        assert self.aws is not None and self.stack is not None and self.web is not None
        return Discovery(
            **self.stack.model_dump(),
            endpoint_url=self.aws.endpoint_url,
            web_url=self.web.url,
            label_backend=self.options.label_backend,
            pid=os.getpid(),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def _frontend_config(self) -> dict[str, Any]:
        """``config.json`` for the web page (the same builder as the CDK deployment's)."""
        assert self.aws is not None and self.stack is not None
        return PageConfig(
            region=REGION,
            endpoint=self.aws.endpoint_url,
            identity_pool_id=self.stack.identity_pool_id,
            upload_bucket=self.stack.upload_bucket,
            results_table=self.stack.results_table,
            labels_table=self.stack.labels_table,
            local=True,
        ).document()

    def session(self) -> boto3.Session:
        assert self.aws is not None
        return self.aws.session()

    def recent_records(self, limit: int = 50) -> list[ResultRecord]:
        assert self.stack is not None
        dynamodb = self.session().client("dynamodb")
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        items = [
            item_to_record({k: deserializer.deserialize(v) for k, v in item.items()})
            for page in dynamodb.get_paginator("scan").paginate(TableName=self.stack.results_table)
            for item in page.get("Items", [])
        ]
        return sorted(items, key=lambda record: record.timestamp, reverse=True)[:limit]

    def results(self) -> ResultsRepository:
        assert self.stack is not None
        return ResultsRepository(self.session().client("dynamodb"), self.stack.results_table)

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _watch_notifications(self) -> None:
        assert self.stack is not None
        sqs = self.session().client("sqs")
        feed = self.options.data_dir / "notifications.jsonl"
        while not self._stopping.is_set():
            messages = sqs.receive_message(
                QueueUrl=self.stack.notifications_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            for message in messages:
                body = json.loads(json.loads(message["Body"])["Message"])
                with feed.open("a") as stream:
                    stream.write(json.dumps(body) + "\n")
                if self.on_notification is not None:
                    self.on_notification(body)
                sqs.delete_message(
                    QueueUrl=self.stack.notifications_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def _snapshot_periodically(self) -> None:
        while not self._stopping.wait(self.options.snapshot_interval_s):
            self._save()

    def _bound_memory(self) -> None:
        while not self._stopping.wait(10):
            self.prune_executions()
            s3_storage.sweep()  # the bodies of deleted objects (a snapshot's stay until the next one)

    def prune_executions(self) -> int:
        """Forget finished executions beyond ``keep_executions`` (moto would keep them all)."""
        assert self.stack is not None
        return prune_finished_executions(self.stack.account, REGION, self.options.keep_executions)

    def _same_identity_pool_as_before(self, stack: LocalResources) -> LocalResources:
        """The pool id of the first start, at every start: a browser keeps its guest identity (the
        SDK caches it per pool id), so its restored uploads stay its own."""
        saved = self.snapshot.identity_pool_id()
        if saved is None or saved.split(":")[0] != REGION:
            self.snapshot.keep_identity_pool_id(stack.identity_pool_id)
            return stack
        rename_identity_pool(stack.account, REGION, stack.identity_pool_id, saved)
        return stack.model_copy(update={"identity_pool_id": saved})

    def _save(self) -> None:
        assert self.stack is not None
        saved = self.snapshot.save(self.session(), self.stack)
        log.info("saved %(objects)d uploads and %(records)d records", saved)

    def _wait_for_running_executions(self, timeout_s: float) -> None:
        assert self.stack is not None
        sfn = self.session().client("stepfunctions")
        deadline = time.monotonic() + timeout_s
        while (
            time.monotonic() < deadline
            and sfn.list_executions(
                stateMachineArn=self.stack.state_machine_arn, statusFilter="RUNNING", maxResults=1
            )["executions"]
        ):
            time.sleep(0.1)

    def stop(self, drain_timeout_s: float = 10.0) -> None:
        """Stop taking uploads, let running executions finish (bounded), save, shut down."""
        if self.aws is None or self.stack is None:
            return
        session = self.session()
        set_upload_delivery(session, self.stack, enabled=False)
        self._wait_for_running_executions(drain_timeout_s)
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.options.persist:
            self._save()
        if self.web is not None:
            self.web.stop()
        discovery_path(self.options.data_dir).unlink(missing_ok=True)
        self.aws.stop()
        self.aws = None
        gc.unfreeze()  # a process that starts another stack (tests, the benchmark) frees this one
