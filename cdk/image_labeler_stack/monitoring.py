"""A dashboard of the pipeline, and alarms that publish to the failures topic.

Rejected images (the upload's fault) end their executions in the Fail state and raise in the Lambda
that rejects them, so neither AWS/States ExecutionsFailed nor Lambda Errors alone means "broken".
The alarms use the pipeline's own ImagesFailed metric (retries exhausted) and Lambda errors minus
rejections instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from aws_cdk import Duration
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from labeler.blueprint import METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME, Metric

PERIOD = Duration.minutes(5)
#: Errors that are not rejections, per 5 minutes, before anyone is paged: a few are retried away.
UNEXPECTED_ERRORS_THRESHOLD = 5
#: DetectLabels usually answers in well under a second; p90 above this for 15 minutes is an incident.
LABEL_LATENCY_P90_MS = 5_000


def pipeline_metric(name: Metric, statistic: str = "Sum") -> cloudwatch.Metric:
    """A metric the functions emit through Powertools (EMF), with its default ``service`` dimension."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name.value,
        dimensions_map={"service": POWERTOOLS_SERVICE_NAME},
        statistic=statistic,
        period=PERIOD,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.StateMachine,
        functions: Mapping[str, lambda_.Function],
        dead_letter_queue: sqs.Queue,
        topic: sns.ITopic,
        hourly_images_alarm: int,
        monthly_budget_usd: int,
        alert_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._action = actions.SnsAction(topic)
        self.alarms: list[cloudwatch.Alarm] = []

        images = {
            name: pipeline_metric(name)
            for name in (Metric.IMAGES_LABELED, Metric.IMAGES_REJECTED, Metric.IMAGES_FAILED)
        }
        label_latency = pipeline_metric(Metric.LABEL_LATENCY, "p90")
        self._alarm(
            Metric.IMAGES_FAILED.value,
            images[Metric.IMAGES_FAILED],
            1,
            "Images FAILED after all retries (rejections excluded)",
        )
        self._alarm(
            "ExecutionsTimedOut",
            state_machine.metric_timed_out(period=PERIOD),
            1,
            "Pipeline executions timed out",
        )
        errors = {name: function.metric_errors(period=PERIOD) for name, function in functions.items()}
        unexpected = cloudwatch.MathExpression(
            expression=" + ".join(f"FILL(errors_{name}, 0)" for name in errors)
            + " - FILL(rejected, 0) - FILL(backfill_items_failed, 0)",
            using_metrics={
                **{f"errors_{name}": metric for name, metric in errors.items()},
                "rejected": images[Metric.IMAGES_REJECTED],
                "backfill_items_failed": pipeline_metric(Metric.BACKFILL_ITEMS_FAILED),
            },
            label="Lambda errors that are not rejections or failed backfill items",
            period=PERIOD,
        )
        self._alarm(
            "LambdaErrors",
            unexpected,
            UNEXPECTED_ERRORS_THRESHOLD,
            "Lambda errors other than rejected images and failed backfill items (each counted as its image)",
        )
        for name, function in functions.items():
            self._alarm(
                f"{name.capitalize()}Throttles",
                function.metric_throttles(period=PERIOD),
                1,
                f"The {name} function was throttled (its reserved concurrency, rekognitionTps, is full)"
                if function.node.default_child is not None
                and cast(lambda_.CfnFunction, function.node.default_child).reserved_concurrent_executions
                else f"The {name} function was throttled (account concurrency exhausted)",
            )
        self._alarm(
            "UndeliveredEvents",
            dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            ),
            1,
            "EventBridge could not start the pipeline or publish a notification; events wait in the DLQ",
        )
        self._alarm(
            "LabelLatency",
            label_latency,
            LABEL_LATENCY_P90_MS,
            f"p90 label latency above {LABEL_LATENCY_P90_MS} ms for 15 minutes",
            evaluation_periods=3,
        )

        # Volume: the quotas cap the bill, this says someone is using them up (or the quotas are off).
        self._alarm(
            "HourlyImages",
            pipeline_metric(Metric.IMAGES_VALIDATED).with_(period=Duration.hours(1)),
            hourly_images_alarm,
            f"{hourly_images_alarm} or more images validated in one hour (quota exhaustion or abuse)",
        )
        self.budget = self._budget(topic, monthly_budget_usd, alert_email)

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Images", left=list(images.values()), width=12),
            cloudwatch.GraphWidget(
                title="Executions",
                left=[
                    state_machine.metric_started(period=PERIOD),
                    state_machine.metric_succeeded(period=PERIOD),
                    state_machine.metric_failed(period=PERIOD),
                    state_machine.metric_timed_out(period=PERIOD),
                    state_machine.metric_aborted(period=PERIOD),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Lambda errors and throttles",
                left=list(errors.values()),
                right=[function.metric_throttles(period=PERIOD) for function in functions.values()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Lambda duration (p90)",
                left=[
                    function.metric_duration(period=PERIOD, statistic="p90")
                    for function in functions.values()
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(title="Label latency (ms)", left=[label_latency], width=12),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=12),
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        self.alarms.append(alarm)

    def _budget(self, topic: sns.ITopic, amount_usd: int, alert_email: str | None) -> budgets.CfnBudget:
        """The account's monthly cost (all services: a budget cannot filter on one stack's tags unless
        they are activated as cost allocation tags), at 80% actual and 100% forecast."""
        subscribers = [budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)]
        if alert_email:
            subscribers.append(
                budgets.CfnBudget.SubscriberProperty(subscription_type="EMAIL", address=alert_email)
            )
        return budgets.CfnBudget(
            self,
            "MonthlyCost",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=amount_usd, unit="USD"),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind,
                        comparison_operator="GREATER_THAN",
                        threshold=threshold,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=subscribers,
                )
                for kind, threshold in (("ACTUAL", 80), ("FORECASTED", 100))
            ],
        )
