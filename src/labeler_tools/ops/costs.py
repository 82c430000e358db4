"""What a backfill costs on AWS, on paper: list prices times what each object uses.

Prices are us-east-1 list prices (the README's cost tables use the same); the usage per object is
counted from the two ASL files and the handlers (requests, transitions, writes), with Lambda durations
measured here. A dry run's estimate, not a bill: free tiers and taxes are left out.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

#: US dollars, us-east-1 list prices. DetectLabels per image, by monthly volume: the first million,
#: the next four, the next thirty, and beyond (a run is priced as a month's only images).
REKOGNITION_TIERS = ((1_000_000, 0.001), (4_000_000, 0.0008), (30_000_000, 0.0006), (None, 0.00025))
TRANSITION = 0.000025  # Step Functions Standard
LAMBDA_REQUEST = 0.0000002
LAMBDA_GB_SECOND_ARM = 0.0000133334
S3_GET_OR_HEAD = 0.0000004
S3_LIST = 0.000005
DYNAMODB_WRITE_UNIT = 0.000000625  # on demand
DYNAMODB_READ_UNIT = 0.000000125


class Usage(BaseModel):
    """What one object uses."""

    model_config = ConfigDict(frozen=True)

    rekognition_images: int = 0
    transitions: int = 0
    lambda_requests: int = 0
    lambda_gb_seconds: float = 0.0
    s3_reads: int = 0
    dynamodb_writes: int = 0
    dynamodb_reads: int = 0

    def dollars(self) -> float:
        """Without DetectLabels, which is priced by volume (:func:`rekognition_dollars`)."""
        return (
            self.transitions * TRANSITION
            + self.lambda_requests * LAMBDA_REQUEST
            + self.lambda_gb_seconds * LAMBDA_GB_SECOND_ARM
            + self.s3_reads * S3_GET_OR_HEAD
            + self.dynamodb_writes * DYNAMODB_WRITE_UNIT
            + self.dynamodb_reads * DYNAMODB_READ_UNIT
        )


#: An object the plan skips: its map item (Plan, ToLabel, Skipped), the plan's HeadObject and GetItem.
SKIPPED = Usage(transitions=4, lambda_requests=1, lambda_gb_seconds=0.256 * 0.1, s3_reads=1, dynamodb_reads=1)
#: An object labeled: the skipped object's work, its claim, and the pipeline as an upload runs it
#: (5 transitions, validate / label / store, a ranged GET, two record writes and the quota transaction).
LABELED = Usage(
    rekognition_images=1,
    transitions=SKIPPED.transitions + 1 + 5,
    lambda_requests=SKIPPED.lambda_requests + 3,
    lambda_gb_seconds=SKIPPED.lambda_gb_seconds + 0.256 * 0.2 + 0.512 * 0.9 + 0.256 * 0.1,
    s3_reads=SKIPPED.s3_reads + 1,
    dynamodb_writes=1 + 2 + 6,
    dynamodb_reads=SKIPPED.dynamodb_reads,
)


class Estimate(BaseModel):
    model_config = ConfigDict(frozen=True)

    dollars: float
    #: Of which DetectLabels.
    rekognition_dollars: float


def rekognition_dollars(images: int) -> float:
    dollars, left = 0.0, images
    for size, price in REKOGNITION_TIERS:
        counted = left if size is None else min(left, size)
        dollars, left = dollars + counted * price, left - counted
    return dollars


def backfill_estimate(listed: int, labeled: int, rekognition: bool = True) -> Estimate:
    """``listed`` objects listed, ``labeled`` of them labeled; ``rekognition=False`` (the bundled
    model): no DetectLabels charge."""
    listing = -(-listed // 1000) * S3_LIST
    detect = rekognition_dollars(labeled * LABELED.rekognition_images) if rekognition else 0.0
    dollars = listing + detect + labeled * LABELED.dollars() + (listed - labeled) * SKIPPED.dollars()
    return Estimate(dollars=round(dollars, 2), rekognition_dollars=round(detect, 2))
